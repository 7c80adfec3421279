# tests/hostile/local.mk — a guest kernel written to attack the VMM (not the real guest), and the batch that runs its attacks.

# Built like the real kernel (same freestanding flags, same linker script:
# it passes the VMM's image checks), from one file.
check_DATA += tests/hostile/hostile.elf
CLEANFILES += tests/hostile/hostile.elf tests/hostile/hostile.o tests/hostile/hostile.d
EXTRA_DIST += tests/hostile/hostile.c tests/hostile/hostile.ring0
tests/hostile/hostile.o: $(srcdir)/tests/hostile/hostile.c
	@$(MKDIR_P) $(@D)
	$(AM_V_CC)$(CC) $(GUEST_KCFLAGS) -c -o $@ $<
tests/hostile/hostile.elf: tests/hostile/hostile.o $(srcdir)/guest/kernel/kernel.ld
	$(AM_V_CCLD)$(CC) $(GUEST_LINKFLAGS) -Wl,-T,$(srcdir)/guest/kernel/kernel.ld -o $@ tests/hostile/hostile.o

# Every attack mode, against the (sanitized, in CI) VMM: status, message,
# time and memory.
TESTS += tests/hostile/hostile.ring0
