/* tests/fuzz/fuzz_elf.c — libFuzzer entry point for the kernel ELF validator and loader.
 *
 * Built by the build system (tests/fuzz/local.mk): with -DFUZZ_STANDALONE by
 * make check (replays the files it is given), with clang's libFuzzer as
 * tests/fuzz/fuzz_elf-lf (make check fuzzes it briefly, make fuzz longer;
 * tests/fuzz/fuzz.sh seeds it with guest/kernel.elf).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elf_load.h"

#define RAM (16ull << 20)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct gmem m;
	char err[256];
	struct kimage k;
	if (!m.base && gmem_init(&m, RAM) < 0)
		abort();
	int v = elf_validate(data, size, RAM, err, sizeof err);
	int l = elf_load_image(data, size, &m, &k, err, sizeof err);
	/* The validator and the loader must agree on every input. */
	if ((v == 0) != (l == 0))
		abort();
	if (l == 0) {
		char buf[64];
		sym_lookup(&k, k.entry, buf, sizeof buf);
		kimage_free(&k);
	}
	return 0;
}

#ifdef FUZZ_STANDALONE
int main(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			continue;
		static uint8_t buf[1 << 24];
		size_t n = fread(buf, 1, sizeof buf, f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
	}
	return 0;
}
#endif
