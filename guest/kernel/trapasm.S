/* guest/kernel/trapasm.S — exception/interrupt stubs and the syscall entry, all building one trap frame. */
#include "cowvmm/x86.h"
#include "cpu.h" /* CPU_OFF_*: struct cpu fields the entry code uses */

/* Push the general registers in the order of struct trapframe (r15 lowest). */
.macro SAVE_REGS
	pushq %rax
	pushq %rbx
	pushq %rcx
	pushq %rdx
	pushq %rsi
	pushq %rdi
	pushq %rbp
	pushq %r8
	pushq %r9
	pushq %r10
	pushq %r11
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
.endm

	.text
/* Vectors whose CPU frame carries an error code: 8 10 11 12 13 14 17 21 29 30.
 * Every other stub pushes a zero so the frame layout is the same for all. */
.macro VECTOR n
	.balign 16
vector\n:
	.if (\n == 8) || (\n >= 10 && \n <= 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
	.else
	pushq $0
	.endif
	pushq $\n
	.if \n == 14
	jmp alltraps_pf
	.else
	jmp alltraps
	.endif
.endm

	.globl vector0
.altmacro
.set i, 0
.rept 256
	VECTOR %i
	.set i, i + 1
.endr

/* From user mode (CS RPL 3 in the frame: vector, error, RIP, CS) GS.base is
 * the user's: swap in this CPU's (cpu.h).  From the kernel it is already
 * ours -- except for an NMI in the two-instruction windows at the syscall
 * entry and before iretq below, which trap() handles without mycpu().
 * Then the full trap frame, and the C handler with it. */
.macro TRAP_ENTRY handler
	testb $3, 24(%rsp)
	jz 1f
	swapgs
1:	cld
	SAVE_REGS
	mov %rsp, %rdi
	call \handler
.endm

alltraps:
	TRAP_ENTRY trap
	jmp trapret

/* A page fault (vector 14): the same entry and the same trap frame, straight
 * to trap_pf (trap.c) -- no dispatch on the vector in C, and trap()'s frame
 * of five saved registers is not set up for it; it falls through into
 * trapret, the others jump there.  With trap_pf's rare paths out of line
 * (trap.c) and return_to_user_checks' test inline (proc.h), the trap around
 * a user page fault went from 87 to 71 instructions: cowbench quick,
 * icount, reuse write 302 -> 283, COW write 980 -> 961. */
alltraps_pf:
	TRAP_ENTRY trap_pf
	.globl trapret
/* Interrupts off from here to iretq: one arriving after the swapgs would
 * enter the kernel with the user's GS.base. */
trapret:
	cli
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %r11
	popq %r10
	popq %r9
	popq %r8
	popq %rbp
	popq %rdi
	popq %rsi
	popq %rdx
	popq %rcx
	popq %rbx
	popq %rax
	add $16, %rsp           /* vector and error code */
	testb $3, 8(%rsp)       /* back to user mode: give GS.base back */
	jz 2f
	swapgs
2:	iretq

/* The local APIC's spurious-interrupt vector (cpu.h, APIC_SPURIOUS_VECTOR):
 * the APIC raises it for an interrupt that vanished before the CPU took it,
 * and expects no EOI.  Nothing to do but return to what it interrupted. */
	.globl spurious_interrupt
spurious_interrupt:
	iretq

/* `syscall` leaves the user RIP in RCX, RFLAGS in R11, and the user RSP
 * untouched; FMASK has cleared IF/DF/TF/AC.  Build a full trap frame on the
 * task's kernel stack so fork, signals and the exit path see one format, then
 * leave through iretq like any trap (the child of fork starts there too). */
	.globl syscall_entry
	/* A typed, sized symbol: the VMM's crash report names the address
	 * (<syscall_entry+0x0> when a host's KVM faults right here in ring 3). */
	.type syscall_entry, @function
syscall_entry:
	swapgs                                 /* GS.base = this CPU's struct cpu */
	mov %rsp, %gs:CPU_OFF_USER_RSP
	mov %gs:CPU_OFF_SYSCALL_RSP, %rsp      /* the running process's kernel stack */
	pushq $(X86_SEL_UDATA | X86_SEL_RPL3)  /* user SS */
	pushq %gs:CPU_OFF_USER_RSP             /* user RSP */
	pushq %r11                             /* user RFLAGS */
	pushq $(X86_SEL_UCODE | X86_SEL_RPL3)  /* user CS */
	pushq %rcx                             /* user RIP */
	pushq $0                               /* error code */
	pushq $0x100                           /* VEC_SYSCALL */
	SAVE_REGS
	mov %rsp, %rdi
	call syscall_dispatch
	jmp trapret
	.size syscall_entry, . - syscall_entry

/* A new process's first switch lands here (from scheduler(), holding
 * sched_lock) with its trap frame on top. */
	.globl forkret
forkret:
	call forkret_unlock
	jmp trapret

/* void swtch(struct context **old, struct context *new) */
	.globl swtch
swtch:
	pushq %rbp
	pushq %rbx
	pushq %r12
	pushq %r13
	pushq %r14
	pushq %r15
	mov %rsp, (%rdi)
	mov %rsi, %rsp
	popq %r15
	popq %r14
	popq %r13
	popq %r12
	popq %rbx
	popq %rbp
	ret

	.section .rodata
	.balign 8
	.globl vectors
vectors:
.macro VECADDR n
	.quad vector\n
.endm
.set i, 0
.rept 256
	VECADDR %i
	.set i, i + 1
.endr
	.section .note.GNU-stack, "", @progbits
