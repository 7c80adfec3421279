# tests/kvm/local.mk — KVM test batches (one boot of the environment per batch).

# Foundation: boot, console, exit statuses, crash reports, watchdog, image checks.
TESTS += tests/kvm/boot.kvm
EXTRA_DIST += tests/kvm/boot.kvm
