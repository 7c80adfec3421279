# guest/local.mk — the guest kernel and its user programs.
