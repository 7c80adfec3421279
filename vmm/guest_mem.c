/* vmm/guest_mem.c — guest RAM: allocation, pre-faulting, and the one checked access helper. */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "cowvmm/abi.h"
#include "guest_mem.h"

int gmem_init(struct gmem *m, uint64_t size)
{
	m->base = NULL;
	m->size = 0;
	if (size == 0 || size % COWVMM_PAGE_SIZE)
		return -EINVAL;
	/* MAP_POPULATE pre-faults; MAP_NORESERVE is not used: we want the RAM now. */
	void *p = mmap(NULL, size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		return -errno;
	/* Huge pages would blur per-page dirty logging granularity; keep 4 KiB. */
	madvise(p, size, MADV_NOHUGEPAGE);
	/* MAP_POPULATE maps the zero page for reads on some kernels; write each page. */
	for (uint64_t off = 0; off < size; off += COWVMM_PAGE_SIZE)
		((volatile uint8_t *)p)[off] = 0;
	m->base = p;
	m->size = size;
	return 0;
}

void gmem_free(struct gmem *m)
{
	if (m->base)
		munmap(m->base, m->size);
	m->base = NULL;
	m->size = 0;
}

void *gmem_ptr(const struct gmem *m, uint64_t gpa, uint64_t len)
{
	if (!m->base || gpa > m->size || len > m->size - gpa)
		return NULL;
	return m->base + gpa;
}

int gmem_read_str(const struct gmem *m, uint64_t gpa, char *out, size_t outsz)
{
	if (outsz == 0 || gpa >= m->size || !m->base)
		return -1;
	uint64_t avail = m->size - gpa;
	size_t max = outsz - 1;
	if (avail < max)
		max = (size_t)avail;
	const uint8_t *s = m->base + gpa;
	const uint8_t *nul = memchr(s, 0, max < avail ? max + 1 : max);
	if (!nul)
		return -1;
	size_t n = (size_t)(nul - s);
	if (n > outsz - 1)
		return -1;
	memcpy(out, s, n);
	out[n] = 0;
	return (int)n;
}
