/* guest/kernel/uaccess_asm.S — the only kernel instructions allowed to fault on user addresses. */
	.text
/* long copy_user_raw(void *dst, const void *src, uint64_t n): 0, or -EFAULT
 * when a fault inside [copy_user_begin, copy_user_end) could not be resolved:
 * the page-fault handler then resumes at copy_user_fixup.  A resolvable fault
 * (COW break, zero fill, demand page) resumes the rep movsb where it stopped. */
	.globl copy_user_raw
copy_user_raw:
	mov %rdx, %rcx
	.globl copy_user_begin
copy_user_begin:
	rep movsb
	.globl copy_user_end
copy_user_end:
	xor %eax, %eax
	ret
	.globl copy_user_fixup
copy_user_fixup:
	mov $-14, %rax
	ret
	.section .note.GNU-stack, "", @progbits
