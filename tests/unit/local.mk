# tests/unit/local.mk — host unit tests, no KVM needed.
