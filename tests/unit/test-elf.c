/* tests/unit/test-elf.c — the kernel ELF validator/loader against images built here, valid and malformed. */
#include <elf.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tap.h"
#include "cowvmm/abi.h"
#include "elf_load.h"

#define RAM (8ull << 20)
#define KB COWVMM_KERNEL_BASE
#define IMG_SIZE 0x3000u
#define TEXT_OFF 0x1000u
#define DATA_OFF 0x2000u
#define TEXT_PA 0x100000ull
#define DATA_PA 0x101000ull
#define FN_OFF 0x10u /* ktest_fn inside .text */

/* The image: header, 2 program headers (text R+X, data RW with bss), text,
 * data, and a symbol table (sections at the end of the data page). */
struct image {
	uint8_t b[IMG_SIZE];
	size_t size;
};

static Elf64_Ehdr *eh(struct image *im) { return (Elf64_Ehdr *)im->b; }
static Elf64_Phdr *ph(struct image *im, int i) { return (Elf64_Phdr *)(im->b + sizeof(Elf64_Ehdr)) + i; }

#define SYM_OFF 0x2400u  /* 3 Elf64_Sym */
#define STR_OFF 0x2480u  /* string table */
#define SH_OFF  0x2500u  /* section headers: null, .symtab, .strtab */

static void build_valid(struct image *im)
{
	memset(im, 0, sizeof *im);
	im->size = IMG_SIZE;
	Elf64_Ehdr *e = eh(im);
	memcpy(e->e_ident, ELFMAG, SELFMAG);
	e->e_ident[EI_CLASS] = ELFCLASS64;
	e->e_ident[EI_DATA] = ELFDATA2LSB;
	e->e_ident[EI_VERSION] = EV_CURRENT;
	e->e_type = ET_EXEC;
	e->e_machine = EM_X86_64;
	e->e_version = EV_CURRENT;
	e->e_entry = KB + TEXT_PA;
	e->e_phoff = sizeof(Elf64_Ehdr);
	e->e_shoff = SH_OFF;
	e->e_ehsize = sizeof(Elf64_Ehdr);
	e->e_phentsize = sizeof(Elf64_Phdr);
	e->e_phnum = 2;
	e->e_shentsize = sizeof(Elf64_Shdr);
	e->e_shnum = 3;
	e->e_shstrndx = SHN_UNDEF;
	*ph(im, 0) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_X, .p_offset = TEXT_OFF,
				   .p_vaddr = KB + TEXT_PA, .p_paddr = TEXT_PA, .p_filesz = 0x100,
				   .p_memsz = 0x100, .p_align = 0x1000 };
	/* Data: 0x600 bytes in the file (holding the symtab too), 0x3000 in memory. */
	*ph(im, 1) = (Elf64_Phdr){ .p_type = PT_LOAD, .p_flags = PF_R | PF_W, .p_offset = DATA_OFF,
				   .p_vaddr = KB + DATA_PA, .p_paddr = DATA_PA, .p_filesz = 0x600,
				   .p_memsz = 0x3000, .p_align = 0x1000 };
	memset(im->b + TEXT_OFF, 0x90, 0x100);
	memset(im->b + DATA_OFF, 0x5a, 0x400);

	static const char strtab[] = "\0ktest_fn\0kdata\0";
	memcpy(im->b + STR_OFF, strtab, sizeof strtab);
	Elf64_Sym *sym = (Elf64_Sym *)(im->b + SYM_OFF);
	sym[1] = (Elf64_Sym){ .st_name = 1, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_FUNC),
			      .st_shndx = 1, .st_value = KB + TEXT_PA + FN_OFF, .st_size = 0x20 };
	sym[2] = (Elf64_Sym){ .st_name = 10, .st_info = ELF64_ST_INFO(STB_GLOBAL, STT_OBJECT),
			      .st_shndx = 1, .st_value = KB + DATA_PA, .st_size = 8 };
	Elf64_Shdr *sh = (Elf64_Shdr *)(im->b + SH_OFF);
	sh[1] = (Elf64_Shdr){ .sh_type = SHT_SYMTAB, .sh_offset = SYM_OFF, .sh_size = 3 * sizeof(Elf64_Sym),
			      .sh_link = 2, .sh_info = 1, .sh_entsize = sizeof(Elf64_Sym), .sh_addralign = 8 };
	sh[2] = (Elf64_Shdr){ .sh_type = SHT_STRTAB, .sh_offset = STR_OFF, .sh_size = sizeof strtab,
			      .sh_addralign = 1 };
}

static char err[256];

/* Validation fails and the reason mentions `word`. */
static void refused(struct image *im, const char *word, const char *what)
{
	err[0] = 0;
	int r = elf_validate(im->b, im->size, RAM, err, sizeof err);
	ok(r == -1 && strstr(err, word), "refused: %s (%s)", what, err);
}

typedef void (*mutate_fn)(struct image *im);

struct bad_case {
	const char *what;
	const char *word; /* expected in the one-line reason */
	mutate_fn mutate;
};

static void m_not_elf(struct image *im) { memcpy(im->b, "#!/bin/sh\n", 10); }
static void m_trunc_ident(struct image *im) { im->size = 10; }
static void m_trunc_ehdr(struct image *im) { im->size = sizeof(Elf64_Ehdr) - 1; }
static void m_trunc_phdrs(struct image *im) { im->size = sizeof(Elf64_Ehdr) + sizeof(Elf64_Phdr) + 8; }
static void m_trunc_segment(struct image *im) { im->size = TEXT_OFF + 0x80; eh(im)->e_shoff = 0; eh(im)->e_shnum = 0; }
static void m_class32(struct image *im) { im->b[EI_CLASS] = ELFCLASS32; }
static void m_bigendian(struct image *im) { im->b[EI_DATA] = ELFDATA2MSB; }
static void m_machine(struct image *im) { eh(im)->e_machine = EM_AARCH64; }
static void m_i386(struct image *im) { eh(im)->e_machine = EM_386; }
static void m_type_dyn(struct image *im) { eh(im)->e_type = ET_DYN; }
static void m_type_rel(struct image *im) { eh(im)->e_type = ET_REL; }
static void m_phnum0(struct image *im) { eh(im)->e_phnum = 0; }
static void m_phnum_huge(struct image *im) { eh(im)->e_phnum = 1000; }
static void m_phoff_out(struct image *im) { eh(im)->e_phoff = 0xfffffffffffffff0ull; }
static void m_phentsize(struct image *im) { eh(im)->e_phentsize = 32; }
static void m_no_load(struct image *im) { ph(im, 0)->p_type = PT_NOTE; ph(im, 1)->p_type = PT_NOTE; }
static void m_filesz_gt_memsz(struct image *im) { ph(im, 0)->p_filesz = 0x200; }
static void m_off_outside(struct image *im) { ph(im, 0)->p_offset = IMG_SIZE - 0x80; ph(im, 0)->p_vaddr = KB + TEXT_PA; ph(im, 0)->p_align = 0; }
static void m_off_overflow(struct image *im) { ph(im, 0)->p_offset = 0xffffffffffffff80ull; ph(im, 0)->p_align = 0; }
static void m_filesz_huge(struct image *im) { ph(im, 0)->p_filesz = ph(im, 0)->p_memsz = 0xfffffffffffff000ull; }
static void m_below_min(struct image *im) { ph(im, 1)->p_paddr = 0x8000; ph(im, 1)->p_vaddr = KB + 0x8000; }
static void m_past_ram(struct image *im) { ph(im, 1)->p_paddr = RAM - 0x1000; ph(im, 1)->p_vaddr = KB + RAM - 0x1000; }
static void m_paddr_huge(struct image *im) { ph(im, 1)->p_paddr = 0xfffffffffffff000ull; ph(im, 1)->p_vaddr = KB + 0xfffffffffffff000ull; }
static void m_memsz_huge(struct image *im) { ph(im, 1)->p_memsz = 0xffffffffffffff00ull; }
static void m_memsz_wraps(struct image *im) { ph(im, 1)->p_memsz = 0ull - DATA_PA + 0x10; }
static void m_vaddr(struct image *im) { ph(im, 1)->p_vaddr = DATA_PA; }
static void m_vaddr_directmap(struct image *im) { ph(im, 1)->p_vaddr = COWVMM_DIRECT_MAP_BASE + DATA_PA; }
static void m_overlap(struct image *im) { ph(im, 1)->p_paddr = TEXT_PA + 0x80; ph(im, 1)->p_vaddr = KB + TEXT_PA + 0x80; ph(im, 1)->p_align = 0; }
static void m_same(struct image *im) { ph(im, 1)->p_paddr = TEXT_PA; ph(im, 1)->p_vaddr = KB + TEXT_PA; }
static void m_align_np2(struct image *im) { ph(im, 0)->p_align = 0x3000; }
static void m_align_mismatch(struct image *im) { ph(im, 0)->p_offset = TEXT_OFF + 0x10; }
static void m_entry_data(struct image *im) { eh(im)->e_entry = KB + DATA_PA + 8; }
static void m_entry_nowhere(struct image *im) { eh(im)->e_entry = KB + 0x400000; }
static void m_entry_lowhalf(struct image *im) { eh(im)->e_entry = TEXT_PA; }
static void m_entry_end(struct image *im) { eh(im)->e_entry = KB + TEXT_PA + 0x100; }
static void m_no_x(struct image *im) { ph(im, 0)->p_flags = PF_R; }

static const struct bad_case bad_cases[] = {
	{ "not ELF at all", "not an ELF", m_not_elf },
	{ "truncated inside e_ident", "not an ELF", m_trunc_ident },
	{ "truncated ELF header", "", m_trunc_ehdr },
	{ "truncated program header table", "program header", m_trunc_phdrs },
	{ "segment truncated by end of file", "outside the", m_trunc_segment },
	{ "ELFCLASS32", "64-bit", m_class32 },
	{ "big-endian", "little-endian", m_bigendian },
	{ "machine AArch64", "x86-64", m_machine },
	{ "machine i386", "x86-64", m_i386 },
	{ "ET_DYN", "ET_EXEC", m_type_dyn },
	{ "ET_REL", "ET_EXEC", m_type_rel },
	{ "no program headers", "program headers", m_phnum0 },
	{ "1000 program headers", "program header", m_phnum_huge },
	{ "e_phoff beyond the file", "program header", m_phoff_out },
	{ "wrong e_phentsize", "e_phentsize", m_phentsize },
	{ "no PT_LOAD", "no PT_LOAD", m_no_load },
	{ "p_filesz > p_memsz", "p_filesz", m_filesz_gt_memsz },
	{ "segment data outside the file", "outside the", m_off_outside },
	{ "p_offset + p_filesz overflows", "outside the", m_off_overflow },
	{ "huge p_filesz", "outside the", m_filesz_huge },
	{ "segment below the kernel minimum GPA", "below the kernel minimum", m_below_min },
	{ "segment past the end of RAM", "outside guest RAM", m_past_ram },
	{ "p_paddr near 2^64", "outside guest RAM", m_paddr_huge },
	{ "huge p_memsz", "outside guest RAM", m_memsz_huge },
	{ "p_paddr + p_memsz wraps", "outside guest RAM", m_memsz_wraps },
	{ "p_vaddr not kernel base + p_paddr", "p_vaddr", m_vaddr },
	{ "p_vaddr in the direct map", "p_vaddr", m_vaddr_directmap },
	{ "overlapping PT_LOADs", "overlaps", m_overlap },
	{ "two PT_LOADs at the same address", "overlaps", m_same },
	{ "p_align not a power of two", "power of two", m_align_np2 },
	{ "p_vaddr != p_offset mod p_align", "modulo p_align", m_align_mismatch },
	{ "entry in a data segment", "entry point", m_entry_data },
	{ "entry outside every segment", "entry point", m_entry_nowhere },
	{ "entry in the lower half", "entry point", m_entry_lowhalf },
	{ "entry one past the text segment", "entry point", m_entry_end },
	{ "text segment not executable", "entry point", m_no_x },
};

static void test_bad_cases(void)
{
	struct image *im = malloc(sizeof *im);
	for (size_t i = 0; i < sizeof bad_cases / sizeof bad_cases[0]; i++) {
		build_valid(im);
		bad_cases[i].mutate(im);
		refused(im, bad_cases[i].word, bad_cases[i].what);
	}
	free(im);
}

/* A refused image leaves guest RAM exactly as it was. */
static void test_nothing_loaded(void)
{
	struct gmem m;
	struct kimage k;
	struct image *im = malloc(sizeof *im);
	gmem_init(&m, RAM);
	memset(m.base, 0xaa, m.size);
	build_valid(im);
	m_entry_data(im); /* every segment is fine; only the entry is wrong */
	int r = elf_load_image(im->b, im->size, &m, &k, err, sizeof err);
	size_t i = 0;
	while (i < m.size && m.base[i] == 0xaa)
		i++;
	ok(r == -1 && i == m.size, "refused image: guest RAM untouched");
	ok(k.nsyms == 0 && k.syms == NULL, "refused image: no symbols kept");
	gmem_free(&m);
	free(im);
}

static void test_load_valid(void)
{
	struct gmem m;
	struct kimage k;
	char buf[64];
	struct image *im = malloc(sizeof *im);
	build_valid(im);
	ok(elf_validate(im->b, im->size, RAM, err, sizeof err) == 0, "valid image accepted (%s)", err);
	uint8_t before[64];
	memcpy(before, im->b, sizeof before);
	elf_validate(im->b, im->size, RAM, err, sizeof err);
	ok(memcmp(before, im->b, sizeof before) == 0, "elf_validate does not modify the image");
	ok(elf_validate(im->b, im->size, 1ull << 20, err, sizeof err) == -1,
	   "the same image does not fit 1 MiB of RAM");

	gmem_init(&m, RAM);
	memset(m.base, 0xaa, m.size);
	int r = elf_load_image(im->b, im->size, &m, &k, err, sizeof err);
	ok(r == 0, "valid image loaded (%s)", r ? err : "ok");
	ok(k.entry == KB + TEXT_PA, "entry point kept");
	ok(k.kernel_end_gpa == DATA_PA + 0x3000, "kernel_end_gpa is the page-aligned end of the last segment (0x%llx)",
	   (unsigned long long)k.kernel_end_gpa);
	ok(memcmp(m.base + TEXT_PA, im->b + TEXT_OFF, 0x100) == 0, "text copied to its p_paddr");
	ok(memcmp(m.base + DATA_PA, im->b + DATA_OFF, 0x600) == 0, "data copied to its p_paddr");
	bool zero = true;
	for (uint64_t a = DATA_PA + 0x600; a < DATA_PA + 0x3000; a++)
		zero &= m.base[a] == 0;
	ok(zero, "bss (p_memsz beyond p_filesz) zeroed");
	ok(m.base[TEXT_PA - 1] == 0xaa && m.base[DATA_PA + 0x3000] == 0xaa, "nothing written outside the segments");

	ok(k.nsyms == 2, "two symbols kept (%zu)", k.nsyms);
	ok(strcmp(sym_lookup(&k, KB + TEXT_PA + FN_OFF + 4, buf, sizeof buf), "ktest_fn+0x4") == 0,
	   "sym_lookup inside a function: %s", buf);
	ok(strcmp(sym_lookup(&k, KB + TEXT_PA + FN_OFF, buf, sizeof buf), "ktest_fn+0x0") == 0,
	   "sym_lookup at a function start: %s", buf);
	ok(strcmp(sym_lookup(&k, KB + TEXT_PA + FN_OFF + 0x20, buf, sizeof buf), "0xffffffff80100030") == 0,
	   "sym_lookup past a sized symbol gives the bare address: %s", buf);
	ok(strcmp(sym_lookup(&k, KB + DATA_PA + 3, buf, sizeof buf), "kdata+0x3") == 0,
	   "sym_lookup on an object: %s", buf);
	ok(strcmp(sym_lookup(&k, 5, buf, sizeof buf), "0x5") == 0, "sym_lookup below every symbol: %s", buf);
	ok(strcmp(sym_lookup(NULL, 0x10, buf, sizeof buf), "0x10") == 0, "sym_lookup without an image");
	kimage_free(&k);
	ok(k.nsyms == 0 && k.syms == NULL, "kimage_free empties the table");
	gmem_free(&m);
	free(im);
}

/* Random corruptions of the valid image: the validator must never crash or
 * read outside the buffer (the sanitizer build checks), and whatever it accepts
 * must load. */
static void test_mutations(void)
{
	struct gmem m;
	struct kimage k;
	struct image *im = malloc(sizeof *im);
	gmem_init(&m, RAM);
	uint64_t x = 0x9e3779b97f4a7c15ull;
	int accepted = 0, loaded = 0, n = 3000;
	for (int i = 0; i < n; i++) {
		build_valid(im);
		int flips = 1 + i % 4;
		for (int f = 0; f < flips; f++) {
			x ^= x << 13, x ^= x >> 7, x ^= x << 17;
			/* Mostly the headers, where the checks are. */
			size_t at = (x >> 8) % (i % 3 ? 0x100 : IMG_SIZE);
			im->b[at] = (uint8_t)x;
		}
		if (i % 7 == 0)
			im->size = (size_t)((x >> 20) % IMG_SIZE);
		if (elf_validate(im->b, im->size, RAM, err, sizeof err) == 0) {
			accepted++;
			if (elf_load_image(im->b, im->size, &m, &k, err, sizeof err) == 0)
				loaded++;
			kimage_free(&k);
		}
	}
	ok(accepted == loaded, "%d random corruptions: every accepted image (%d) also loads (%d)", n,
	   accepted, loaded);
	gmem_free(&m);
	free(im);
}

int main(void)
{
	test_load_valid();
	test_bad_cases();
	test_nothing_loaded();
	test_mutations();
	return tap_done();
}
