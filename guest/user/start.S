/* guest/user/start.S — program entry: the kernel passes argc in RDI and argv in RSI; main's return value goes to exit(). */
	.section .text.start, "ax"
	.globl _start
_start:
	xor %ebp, %ebp
	call main
	mov %eax, %edi
	call exit
1:	jmp 1b
	.section .note.GNU-stack, "", @progbits
