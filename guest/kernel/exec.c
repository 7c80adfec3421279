/* guest/kernel/exec.c — load an embedded user program (static ELF) into a fresh address space; start init. */
#include "kernel.h"
#include "mm.h"
#include "spinlock.h"
#include "proc.h"
#include "x86.h"

/* The table generated at build time (guest/kernel/programs.S). */
struct program {
	const char *name;
	const uint8_t *start, *end;
};
extern const struct program user_programs[];

/* Minimal ELF64 definitions (no libc headers in the kernel). */
struct elf64_ehdr {
	uint8_t ident[16];
	uint16_t type, machine;
	uint32_t version;
	uint64_t entry, phoff, shoff;
	uint32_t flags;
	uint16_t ehsize, phentsize, phnum, shentsize, shnum, shstrndx;
};
struct elf64_phdr {
	uint32_t type, flags;
	uint64_t offset, vaddr, paddr, filesz, memsz, align;
};
#define PT_LOAD 1
#define ELF_PF_X 1
#define ELF_PF_W 2

#define MAX_ARGS 32
#define STACK_LIMIT (USER_STACK_TOP - USER_STACK_PAGES * PAGE_SIZE)

static const struct program *find_program(const char *name)
{
	for (const struct program *p = user_programs; p->name; p++)
		if (!strcmp(p->name, name))
			return p;
	return NULL;
}

int program_exists(const char *name)
{
	return find_program(name) != NULL;
}

static int load_segment(struct mm *mm, const struct program *prog, const struct elf64_phdr *ph)
{
	uint64_t size = (uint64_t)(prog->end - prog->start);
	if (ph->filesz > ph->memsz || ph->offset > size || ph->filesz > size - ph->offset ||
	    ph->vaddr < PAGE_SIZE || ph->memsz > USER_MMAP_BASE || ph->vaddr + ph->memsz > USER_MMAP_BASE)
		return -ENOENT;
	uint32_t prot = PROT_READ | (ph->flags & ELF_PF_W ? PROT_WRITE : 0) | (ph->flags & ELF_PF_X ? PROT_EXEC_K : 0);
	uint32_t kind = ph->flags & ELF_PF_X ? RK_TEXT : ph->flags & ELF_PF_W ? RK_DATA : RK_RODATA;
	uint64_t start = PAGE_DOWN(ph->vaddr), end = PAGE_UP(ph->vaddr + ph->memsz);
	int r = region_add(mm, start, end, prot, kind);
	if (r)
		return r;
	/* Loaded eagerly: the image is in kernel memory, there is no page cache. */
	for (uint64_t va = start; va < end; va += PAGE_SIZE) {
		uint64_t pa = frame_alloc_zeroed(COWVMM_SITE_DATA_FRAME);
		if (!pa)
			return -ENOMEM;
		/* bytes of the file that land in this page */
		uint64_t lo = MAX(va, ph->vaddr), hi = MIN(va + PAGE_SIZE, ph->vaddr + ph->filesz);
		if (lo < hi)
			memcpy((uint8_t *)phys_to_virt(pa) + (lo - va),
			       prog->start + ph->offset + (lo - ph->vaddr), hi - lo);
		if (map_page(mm->pml4, va, pa, leaf_flags(prot))) {
			frame_put(pa);
			return -ENOMEM;
		}
	}
	mm->heap_start = MAX(mm->heap_start, end);
	return 0;
}

/* argv strings and the pointer array go at the top of the stack's last page. */
static int setup_stack(struct mm *mm, int argc, char **argv, uint64_t *sp_out, uint64_t *argv_out)
{
	int r = region_add(mm, STACK_LIMIT, USER_STACK_TOP, PROT_READ | PROT_WRITE, RK_STACK);
	if (r)
		return r;
	uint64_t pa = frame_alloc_zeroed(COWVMM_SITE_DATA_FRAME);
	if (!pa)
		return -ENOMEM;
	uint64_t page_va = USER_STACK_TOP - PAGE_SIZE;
	if (map_page(mm->pml4, page_va, pa, leaf_flags(PROT_READ | PROT_WRITE))) {
		frame_put(pa);
		return -ENOMEM;
	}
	uint8_t *page = phys_to_virt(pa);
	uint64_t off = PAGE_SIZE, uptr[MAX_ARGS + 1];
	for (int i = argc - 1; i >= 0; i--) {
		uint64_t len = strlen(argv[i]) + 1;
		if (len + 8 * (MAX_ARGS + 4) > off)
			return -EINVAL;
		off -= len;
		memcpy(page + off, argv[i], len);
		uptr[i] = page_va + off;
	}
	uptr[argc] = 0;
	off &= ~15ull;
	off -= 8 * (uint64_t)(argc + 1);
	off &= ~15ull;
	memcpy(page + off, uptr, 8 * (uint64_t)(argc + 1));
	*argv_out = page_va + off;
	*sp_out = page_va + off; /* 16-aligned: _start's call leaves main ABI-aligned */
	return 0;
}

/* Replace p's address space with the program's.  On failure p is untouched. */
int exec_program(struct proc *p, const char *name, int argc, char **argv)
{
	const struct program *prog = find_program(name);
	if (!prog)
		return -ENOENT;
	const struct elf64_ehdr *eh = (const void *)prog->start;
	uint64_t size = (uint64_t)(prog->end - prog->start);
	if (size < sizeof(*eh) || memcmp(eh->ident, "\x7f" "ELF", 4) || eh->ident[4] != 2 ||
	    eh->machine != 62 || eh->phentsize != sizeof(struct elf64_phdr) ||
	    eh->phoff > size || (uint64_t)eh->phnum * sizeof(struct elf64_phdr) > size - eh->phoff)
		return -ENOENT;
	if (argc > MAX_ARGS)
		return -EINVAL;
	/* Linux kills the other threads first; this kernel asks for a process
	 * that has only one (README: threads). */
	if (p->leader && p->leader->nthreads > 1)
		return -EBUSY;

	struct mm mm;
	int r = mm_init(&mm);
	if (r)
		return r;
	const struct elf64_phdr *ph = (const void *)(prog->start + eh->phoff);
	for (int i = 0; i < eh->phnum && !r; i++)
		if (ph[i].type == PT_LOAD && ph[i].memsz)
			r = load_segment(&mm, prog, &ph[i]);
	uint64_t sp = 0, uargv = 0;
	if (!r)
		r = setup_stack(&mm, argc, argv, &sp, &uargv);
	if (r) {
		mm_release(&mm);
		return r;
	}
	mm.brk = mm.heap_start;

	/* Commit: from here on nothing can fail. */
	struct mm *cur = p->mm;
	spin_lock(&cur->lock);
	if (p == curproc)
		switch_mm(mycpu(), NULL); /* off the old tables before they go */
	KASSERT(!cur->cpumask);
	struct mm old = *cur;
	struct spinlock held = cur->lock; /* the new contents, under the same lock */
	*cur = mm;
	cur->lock = held;
	p->cr3 = mm.pml4;
	if (p == curproc)
		switch_mm(mycpu(), cur);
	spin_init(&old.lock, "mm (exec's old)");
	spin_lock(&old.lock);
	mm_release(&old);
	spin_unlock(&old.lock);
	spin_unlock(&cur->lock);
	proc_set_name(p, name);
	memset(p->sighand, 0, sizeof(p->sighand)); /* handlers do not survive exec */
	memcpy(p->fxstate, fx_default, sizeof(p->fxstate));
	if (p == curproc)
		fxrstor(fx_default);

	struct trapframe *tf = p->tf;
	memset(tf, 0, sizeof(*tf));
	tf->rip = eh->entry;
	tf->rsp = sp;
	tf->rdi = (uint64_t)argc;
	tf->rsi = uargv;
	tf->cs = X86_SEL_UCODE | X86_SEL_RPL3;
	tf->ss = X86_SEL_UDATA | X86_SEL_RPL3;
	tf->rflags = X86_RFLAGS_IF | X86_RFLAGS_FIXED; /* IF set; nothing interrupts us anyway */
	return 0;
}

/* Split the command line into words (in place, in a static copy). */
static int split_words(char *s, char **words, int max)
{
	int n = 0;
	while (*s && n < max) {
		while (*s == ' ' || *s == '\t')
			*s++ = '\0';
		if (!*s)
			break;
		words[n++] = s;
		while (*s && *s != ' ' && *s != '\t')
			s++;
	}
	return n;
}

/* Start the first process: the program named by the command line (the demo
 * when empty), as pid 1 with fds 0-2 on the console. */
_Noreturn void user_init(const char *cmdline)
{
	static char line[COWVMM_CMDLINE_MAX];
	static char *words[MAX_ARGS];
	static char demo[] = "demo";
	strncpy_safe(line, cmdline, sizeof(line));
	int argc = split_words(line, words, MAX_ARGS);
	if (!argc) {
		words[0] = demo;
		argc = 1;
	}
	if (!program_exists(words[0])) {
		kprintf("kernel: unknown program '%s'; embedded programs:", words[0]);
		for (const struct program *p = user_programs; p->name; p++)
			kprintf(" %s", p->name);
		kprintf("\n");
		hc_exit(127);
	}

	struct proc *p;
	if (proc_alloc(&p))
		panic("cannot allocate the first process");
	KASSERT(p->pid == 1);
	p->files = fdtable_alloc();
	struct file *con = file_alloc();
	if (!p->files || !con)
		panic("cannot allocate the console file");
	con->type = FT_CONSOLE;
	con->readable = con->writable = 1;
	p->files->fd[0] = con;
	p->files->fd[1] = file_dup(con);
	p->files->fd[2] = file_dup(con);
	int r = exec_program(p, words[0], argc, words);
	if (r)
		panic("cannot start %s: error %d", words[0], r);
	struct context *ctx = (struct context *)((uint64_t)p->tf - sizeof(*ctx));
	memset(ctx, 0, sizeof(*ctx));
	ctx->rip = (uint64_t)forkret;
	p->ctx = ctx;
	inject_start();
	make_runnable(p);
	scheduler_start();
}
