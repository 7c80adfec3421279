/* vmm/main.c — command line of `vmm` (placeholder until the run loop lands). */
#include <stdio.h>

#include "vmm.h"

int main(void)
{
	fprintf(stderr, "vmm: not implemented yet\n");
	return VMM_EXIT_NO_KVM;
}
