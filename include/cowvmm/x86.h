/* include/cowvmm/x86.h — x86-64 architectural constants and the guest kernel's GDT selectors, defined once for the VMM and the guest. */
#ifndef COWVMM_X86_H
#define COWVMM_X86_H

/*
 * Both sides program or decode the same CPU state: the VMM builds the first
 * long-mode state (CR0, CR4, EFER, a boot GDT whose code/data slots are the
 * kernel's), probes the host with a tiny ring-3 guest (STAR/LSTAR/FMASK, the
 * kernel's selectors), injects #PFs with chosen error codes and names the
 * vector of a crash report; the guest kernel sets the same registers and
 * reads the same error codes.  Two private copies of a bit number drift
 * silently; one definition cannot.
 *
 * Every name starts with X86_ so it never clashes with <linux/kvm.h>,
 * <asm/...> or a file's own short names.  The header has only #defines (no
 * types, no includes): it is freestanding and a preprocessed assembly file
 * (.S) may include it too; the selectors and vector numbers are plain
 * integers so assembly can use them, the register bits carry C suffixes
 * (unsigned long long, except the 32-bit #PF error code) and are for C.
 */

/* ---- CR0 ------------------------------------------------------------------ */
#define X86_CR0_PE (1ull << 0)  /* protected mode */
#define X86_CR0_MP (1ull << 1)  /* WAIT/FWAIT honour TS: needed with SSE */
#define X86_CR0_EM (1ull << 2)  /* x87 emulation: must be clear for FPU/SSE */
#define X86_CR0_TS (1ull << 3)  /* task switched: clear, or the first FPU use traps (#NM) */
#define X86_CR0_ET (1ull << 4)  /* extension type: always 1 on modern CPUs */
#define X86_CR0_NE (1ull << 5)  /* native x87 error reporting (#MF, not IRQ 13) */
#define X86_CR0_WP (1ull << 16) /* supervisor writes honour read-only PTEs: kernel writes break COW */
#define X86_CR0_PG (1ull << 31) /* paging (with EFER.LME: long mode) */

/* ---- CR4 ------------------------------------------------------------------ */
#define X86_CR4_PAE (1ull << 5)         /* PAE paging: required for long mode */
#define X86_CR4_OSFXSR (1ull << 9)      /* OS saves SSE state with FXSAVE: enables SSE */
#define X86_CR4_OSXMMEXCPT (1ull << 10) /* SIMD FP exceptions raise #XM */

/* ---- EFER (X86_MSR_EFER) --------------------------------------------------- */
#define X86_EFER_SCE (1ull << 0)  /* SYSCALL/SYSRET enabled */
#define X86_EFER_LME (1ull << 8)  /* long mode enable */
#define X86_EFER_LMA (1ull << 10) /* long mode active (set by the CPU; KVM wants it in sregs) */
#define X86_EFER_NXE (1ull << 11) /* PTE bit 63 (no-execute) honoured instead of reserved */

/* ---- MSR numbers ----------------------------------------------------------- */
#define X86_MSR_EFER 0xc0000080u
#define X86_MSR_STAR 0xc0000081u  /* SYSCALL CS in 47:32, SYSRET base selector in 63:48 */
#define X86_MSR_LSTAR 0xc0000082u /* 64-bit SYSCALL entry point */
#define X86_MSR_FMASK 0xc0000084u /* RFLAGS bits cleared on SYSCALL */

/* ---- RFLAGS --------------------------------------------------------------- */
#define X86_RFLAGS_FIXED (1ull << 1) /* reserved, always 1: part of any RFLAGS value built by hand */
#define X86_RFLAGS_TF (1ull << 8)    /* single step */
#define X86_RFLAGS_IF (1ull << 9)    /* interrupts enabled */
#define X86_RFLAGS_DF (1ull << 10)   /* string direction: the C ABI wants it clear */
#define X86_RFLAGS_AC (1ull << 18)   /* alignment check (with SMAP: user access allowed) */

/* ---- #PF error code (32 bits pushed by the CPU; CR2 holds the address) ---- */
#define X86_PF_P (1u << 0)    /* the page was present: a protection fault, not a missing page */
#define X86_PF_W (1u << 1)    /* the access was a write */
#define X86_PF_U (1u << 2)    /* the access came from user mode (CPL 3) */
#define X86_PF_RSVD (1u << 3) /* a reserved bit was set in a paging entry */
#define X86_PF_I (1u << 4)    /* instruction fetch (with NX enabled) */

/* ---- Exception vectors (0..31 are reserved for exceptions) ----------------- */
#define X86_VEC_DE 0  /* divide error */
#define X86_VEC_DB 1  /* debug */
#define X86_VEC_NMI 2 /* non-maskable interrupt */
#define X86_VEC_BP 3  /* breakpoint (int3) */
#define X86_VEC_OF 4  /* overflow (into) */
#define X86_VEC_BR 5  /* bound range */
#define X86_VEC_UD 6  /* invalid opcode */
#define X86_VEC_NM 7  /* device not available (FPU with CR0.TS/EM) */
#define X86_VEC_DF 8  /* double fault */
#define X86_VEC_TS 10 /* invalid TSS */
#define X86_VEC_NP 11 /* segment not present */
#define X86_VEC_SS 12 /* stack-segment fault */
#define X86_VEC_GP 13 /* general protection */
#define X86_VEC_PF 14 /* page fault */
#define X86_VEC_MF 16 /* x87 floating-point error */
#define X86_VEC_AC 17 /* alignment check */
#define X86_VEC_MC 18 /* machine check */
#define X86_VEC_XM 19 /* SIMD floating-point */
#define X86_VEC_VE 20 /* virtualization exception */
#define X86_VEC_CP 21 /* control protection */
#define X86_NR_EXCEPTIONS 32 /* vectors below this are exceptions, not interrupts */

/* ---- The guest kernel's GDT selectors --------------------------------------
 * The order is forced by SYSCALL/SYSRET through STAR: kernel SS = kernel
 * CS + 8; SYSRET takes user SS = STAR[63:48] + 8 and user CS = STAR[63:48] + 16,
 * so user data comes before user code.  The VMM's boot GDT puts its code and
 * data descriptors in the same first two slots, and its --probe guest uses the
 * same user selectors, so what works for the probe works for the kernel. */
#define X86_SEL_KCODE 0x08 /* 64-bit kernel code, DPL 0 */
#define X86_SEL_KDATA 0x10 /* kernel data / stack, DPL 0 */
#define X86_SEL_UDATA 0x18 /* user data / stack, DPL 3 */
#define X86_SEL_UCODE 0x20 /* 64-bit user code, DPL 3 */
#define X86_SEL_TSS 0x28   /* 64-bit TSS: a 16-byte descriptor, two slots */
#define X86_SEL_RPL3 3     /* requested privilege level ORed into user selectors */

#endif /* COWVMM_X86_H */
