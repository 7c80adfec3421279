/* guest/kernel/entry.S — first instructions: take a stack and enter C (the VMM gives RSP = 0). */
	.section .text.entry, "ax"
	.globl _start
_start:
	/* RDI = boot info GPA and RSI = COWVMM_BOOT_MAGIC pass straight to kmain. */
	lea boot_stack_top(%rip), %rsp
	xor %ebp, %ebp
	call kmain
1:	cli
	hlt
	jmp 1b

	.bss
	.balign 4096
	.globl boot_stack
boot_stack:
	.skip 16384
	.globl boot_stack_top
boot_stack_top:
	.section .note.GNU-stack, "", @progbits
