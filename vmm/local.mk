# vmm/local.mk — the VMM binary.
