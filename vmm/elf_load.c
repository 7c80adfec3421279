/* vmm/elf_load.c — validate, then load, the guest kernel ELF with libelf; keep its symbols. */
#include <errno.h>
#include <fcntl.h>
#include <gelf.h>
#include <libelf.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cowvmm/abi.h"
#include "elf_load.h"

#define PHNUM_MAX 64          /* a kernel has a handful of PT_LOADs */
#define IMAGE_MAX (1ull << 30) /* no kernel image is bigger than RAM's 1 GiB window */
#define SYMNAME_MAX 128

static int bad(char *err, size_t errsz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int bad(char *err, size_t errsz, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	if (errsz)
		vsnprintf(err, errsz, fmt, ap);
	va_end(ap);
	return -1;
}

/* An opened image: libelf works on a private copy so the caller's buffer is
 * never converted or written in place. */
struct img {
	Elf *e;
	char *copy;
	size_t size;
};

static int img_open(struct img *im, const void *buf, size_t size, char *err, size_t errsz)
{
	im->e = NULL;
	im->copy = NULL;
	im->size = size;
	if (elf_version(EV_CURRENT) == EV_NONE)
		return bad(err, errsz, "libelf initialisation failed: %s", elf_errmsg(-1));
	if (size < EI_NIDENT || memcmp(buf, ELFMAG, SELFMAG) != 0)
		return bad(err, errsz, "not an ELF file");
	if (size > IMAGE_MAX)
		return bad(err, errsz, "image too large (%zu bytes)", size);
	im->copy = malloc(size);
	if (!im->copy)
		return bad(err, errsz, "out of memory for a %zu-byte image", size);
	memcpy(im->copy, buf, size);
	im->e = elf_memory(im->copy, size);
	if (!im->e || elf_kind(im->e) != ELF_K_ELF) {
		if (im->e)
			elf_end(im->e);
		im->e = NULL;
		free(im->copy);
		im->copy = NULL;
		return bad(err, errsz, "not an ELF file: %s", elf_errmsg(-1));
	}
	return 0;
}

static void img_close(struct img *im)
{
	if (im->e)
		elf_end(im->e);
	free(im->copy);
	im->e = NULL;
	im->copy = NULL;
}

static bool is_pow2(uint64_t x)
{
	return x && !(x & (x - 1));
}

/* Every check on one PT_LOAD in isolation. */
static int check_load(const GElf_Phdr *p, size_t i, size_t fsize, uint64_t ram, char *err,
		      size_t errsz)
{
	if (p->p_filesz > p->p_memsz)
		return bad(err, errsz, "segment %zu: p_filesz 0x%llx > p_memsz 0x%llx", i,
			   (unsigned long long)p->p_filesz, (unsigned long long)p->p_memsz);
	if (p->p_offset > fsize || p->p_filesz > fsize - p->p_offset)
		return bad(err, errsz, "segment %zu: file range [0x%llx, +0x%llx) outside the %zu-byte file",
			   i, (unsigned long long)p->p_offset, (unsigned long long)p->p_filesz, fsize);
	if (p->p_paddr < COWVMM_KERNEL_MIN_GPA)
		return bad(err, errsz, "segment %zu: p_paddr 0x%llx below the kernel minimum 0x%x", i,
			   (unsigned long long)p->p_paddr, COWVMM_KERNEL_MIN_GPA);
	if (p->p_paddr > ram || p->p_memsz > ram - p->p_paddr)
		return bad(err, errsz, "segment %zu: [0x%llx, +0x%llx) outside guest RAM (0x%llx bytes)",
			   i, (unsigned long long)p->p_paddr, (unsigned long long)p->p_memsz,
			   (unsigned long long)ram);
	if (p->p_vaddr != COWVMM_KERNEL_BASE + p->p_paddr)
		return bad(err, errsz, "segment %zu: p_vaddr 0x%llx != kernel base + p_paddr 0x%llx", i,
			   (unsigned long long)p->p_vaddr, (unsigned long long)p->p_paddr);
	/* The kernel-half mapping covers only the first 1 GiB of RAM. */
	if (p->p_paddr + p->p_memsz > COWVMM_KERNEL_MAP_SIZE)
		return bad(err, errsz, "segment %zu: ends above the 1 GiB kernel mapping", i);
	if (p->p_align > 1) {
		if (!is_pow2(p->p_align))
			return bad(err, errsz, "segment %zu: p_align 0x%llx is not a power of two", i,
				   (unsigned long long)p->p_align);
		if ((p->p_vaddr - p->p_offset) & (p->p_align - 1))
			return bad(err, errsz, "segment %zu: p_vaddr and p_offset disagree modulo p_align 0x%llx",
				   i, (unsigned long long)p->p_align);
	}
	return 0;
}

/* Collect the PT_LOADs (validated) into out[]; returns their count or -1. */
static int check_phdrs(Elf *e, size_t fsize, uint64_t ram, uint64_t entry, GElf_Phdr *out,
		       char *err, size_t errsz)
{
	size_t phnum;
	if (elf_getphdrnum(e, &phnum) != 0)
		return bad(err, errsz, "bad program header table: %s", elf_errmsg(-1));
	if (phnum == 0 || phnum > PHNUM_MAX)
		return bad(err, errsz, "%zu program headers (want 1..%d)", phnum, PHNUM_MAX);
	GElf_Ehdr eh;
	if (!gelf_getehdr(e, &eh) || phnum != eh.e_phnum)
		return bad(err, errsz, "program header count %zu disagrees with e_phnum", phnum);
	int n = 0;
	bool entry_ok = false;
	for (size_t i = 0; i < phnum; i++) {
		GElf_Phdr p;
		if (!gelf_getphdr(e, (int)i, &p))
			return bad(err, errsz, "program header %zu unreadable: %s", i, elf_errmsg(-1));
		if (p.p_type != PT_LOAD)
			continue;
		if (check_load(&p, i, fsize, ram, err, errsz))
			return -1;
		for (int j = 0; j < n; j++) {
			const GElf_Phdr *q = &out[j];
			/* Both ranges are inside RAM, so the sums cannot overflow. */
			if (p.p_memsz && q->p_memsz && p.p_paddr < q->p_paddr + q->p_memsz &&
			    q->p_paddr < p.p_paddr + p.p_memsz)
				return bad(err, errsz, "segment %zu overlaps an earlier PT_LOAD at 0x%llx", i,
					   (unsigned long long)q->p_paddr);
		}
		if ((p.p_flags & PF_X) && entry >= p.p_vaddr && entry - p.p_vaddr < p.p_memsz)
			entry_ok = true;
		out[n++] = p;
	}
	if (n == 0)
		return bad(err, errsz, "no PT_LOAD segment");
	if (!entry_ok)
		return bad(err, errsz, "entry point 0x%llx is not inside an executable PT_LOAD",
			   (unsigned long long)entry);
	return n;
}

static int check_all(struct img *im, uint64_t ram, GElf_Ehdr *eh, GElf_Phdr *loads, char *err,
		     size_t errsz)
{
	const unsigned char *id = (const unsigned char *)im->copy;
	if (id[EI_CLASS] != ELFCLASS64)
		return bad(err, errsz, "not a 64-bit ELF (class %u)", id[EI_CLASS]);
	if (id[EI_DATA] != ELFDATA2LSB)
		return bad(err, errsz, "not little-endian (data encoding %u)", id[EI_DATA]);
	if (!gelf_getehdr(im->e, eh))
		return bad(err, errsz, "truncated or corrupt ELF header: %s", elf_errmsg(-1));
	if (eh->e_machine != EM_X86_64)
		return bad(err, errsz, "not an x86-64 image (e_machine %u)", eh->e_machine);
	if (eh->e_type != ET_EXEC)
		return bad(err, errsz, "not an executable (e_type %u, want ET_EXEC)", eh->e_type);
	if (eh->e_phentsize != sizeof(Elf64_Phdr))
		return bad(err, errsz, "e_phentsize %u, want %zu", eh->e_phentsize, sizeof(Elf64_Phdr));
	/* libelf quietly clamps a table that runs off the file; refuse it instead. */
	if (eh->e_phnum == 0 || eh->e_phnum > PHNUM_MAX)
		return bad(err, errsz, "%u program headers (want 1..%d)", eh->e_phnum, PHNUM_MAX);
	if (eh->e_phoff > im->size ||
	    (uint64_t)eh->e_phnum * sizeof(Elf64_Phdr) > im->size - eh->e_phoff)
		return bad(err, errsz, "program header table [0x%llx, %u entries) outside the %zu-byte file",
			   (unsigned long long)eh->e_phoff, eh->e_phnum, im->size);
	return check_phdrs(im->e, im->size, ram, eh->e_entry, loads, err, errsz);
}

int elf_validate(const void *img, size_t size, uint64_t ram_size, char *err, size_t errsz)
{
	struct img im;
	GElf_Ehdr eh;
	GElf_Phdr loads[PHNUM_MAX];
	if (img_open(&im, img, size, err, errsz))
		return -1;
	int n = check_all(&im, ram_size, &eh, loads, err, errsz);
	img_close(&im);
	return n < 0 ? -1 : 0;
}

static int sym_cmp(const void *a, const void *b)
{
	const struct ksym *x = a, *y = b;
	return x->addr < y->addr ? -1 : x->addr > y->addr;
}

/* Keep STT_FUNC / STT_OBJECT symbols; a missing or odd symtab only costs names. */
static void read_symbols(Elf *e, struct kimage *k)
{
	Elf_Scn *scn = NULL;
	while ((scn = elf_nextscn(e, scn))) {
		GElf_Shdr sh;
		if (!gelf_getshdr(scn, &sh) || sh.sh_type != SHT_SYMTAB || sh.sh_entsize == 0)
			continue;
		Elf_Data *d = elf_getdata(scn, NULL);
		if (!d)
			continue;
		size_t cnt = d->d_size / sh.sh_entsize;
		if (cnt > 1000000)
			cnt = 1000000;
		struct ksym *s = calloc(cnt ? cnt : 1, sizeof *s);
		if (!s)
			return;
		size_t n = 0;
		for (size_t i = 0; i < cnt; i++) {
			GElf_Sym sym;
			if (!gelf_getsym(d, (int)i, &sym))
				break;
			int t = GELF_ST_TYPE(sym.st_info);
			if ((t != STT_FUNC && t != STT_OBJECT) || sym.st_value == 0)
				continue;
			const char *name = elf_strptr(e, sh.sh_link, sym.st_name);
			if (!name || !*name)
				continue;
			s[n].addr = sym.st_value;
			s[n].size = sym.st_size;
			s[n].name = strndup(name, SYMNAME_MAX);
			if (s[n].name)
				n++;
		}
		qsort(s, n, sizeof *s, sym_cmp);
		kimage_free(k);
		k->syms = s;
		k->nsyms = n;
		return;
	}
}

int elf_load_image(const void *img, size_t size, struct gmem *m, struct kimage *k, char *err,
		   size_t errsz)
{
	struct img im;
	GElf_Ehdr eh;
	GElf_Phdr loads[PHNUM_MAX];
	memset(k, 0, sizeof *k);
	if (img_open(&im, img, size, err, errsz))
		return -1;
	int n = check_all(&im, m->size, &eh, loads, err, errsz);
	if (n < 0) {
		img_close(&im);
		return -1;
	}
	/* Everything checked: only now touch guest RAM. */
	uint64_t end = 0;
	for (int i = 0; i < n; i++) {
		const GElf_Phdr *p = &loads[i];
		uint8_t *dst = gmem_ptr(m, p->p_paddr, p->p_memsz);
		if (!dst) { /* cannot happen after check_load; stay safe anyway */
			img_close(&im);
			return bad(err, errsz, "segment at 0x%llx outside RAM", (unsigned long long)p->p_paddr);
		}
		memcpy(dst, im.copy + p->p_offset, p->p_filesz);
		memset(dst + p->p_filesz, 0, p->p_memsz - p->p_filesz);
		if (p->p_paddr + p->p_memsz > end)
			end = p->p_paddr + p->p_memsz;
	}
	k->entry = eh.e_entry;
	k->kernel_end_gpa = (end + COWVMM_PAGE_SIZE - 1) & ~(uint64_t)(COWVMM_PAGE_SIZE - 1);
	read_symbols(im.e, k);
	img_close(&im);
	return 0;
}

int elf_load_file(const char *path, struct gmem *m, struct kimage *k, char *err, size_t errsz)
{
	memset(k, 0, sizeof *k);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return bad(err, errsz, "cannot open %s: %s", path, strerror(errno));
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return bad(err, errsz, "%s: not a regular file", path);
	}
	if ((uint64_t)st.st_size > IMAGE_MAX) {
		close(fd);
		return bad(err, errsz, "%s: too large (%lld bytes)", path, (long long)st.st_size);
	}
	size_t size = (size_t)st.st_size;
	char *buf = malloc(size ? size : 1);
	if (!buf) {
		close(fd);
		return bad(err, errsz, "%s: out of memory", path);
	}
	size_t got = 0;
	while (got < size) {
		ssize_t r = read(fd, buf + got, size - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	close(fd);
	if (got != size) {
		free(buf);
		return bad(err, errsz, "%s: short read", path);
	}
	char why[200];
	int r = elf_load_image(buf, size, m, k, why, sizeof why);
	free(buf);
	if (r)
		return bad(err, errsz, "%s: %s", path, why);
	return 0;
}

void kimage_free(struct kimage *k)
{
	for (size_t i = 0; i < k->nsyms; i++)
		free(k->syms[i].name);
	free(k->syms);
	k->syms = NULL;
	k->nsyms = 0;
}

const char *sym_lookup(const struct kimage *k, uint64_t addr, char *buf, size_t n)
{
	const struct ksym *best = NULL;
	if (k && k->nsyms) {
		/* Last symbol with addr <= target (binary search over the sorted table). */
		size_t lo = 0, hi = k->nsyms;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			if (k->syms[mid].addr <= addr)
				lo = mid + 1;
			else
				hi = mid;
		}
		if (lo > 0)
			best = &k->syms[lo - 1];
		/* A sized symbol must actually cover addr; unsized ones get 64 KiB of slack. */
		if (best && (best->size ? addr - best->addr >= best->size : addr - best->addr >= 0x10000))
			best = NULL;
	}
	if (best)
		snprintf(buf, n, "%s+0x%llx", best->name, (unsigned long long)(addr - best->addr));
	else
		snprintf(buf, n, "0x%llx", (unsigned long long)addr);
	return buf;
}
