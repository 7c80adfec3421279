# tests/kvm/local.mk — KVM test batches (one boot of the environment per batch).
