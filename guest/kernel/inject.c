/* guest/kernel/inject.c — fault injection: every allocation site asks should_fail(site) first (rules of abi.h). */
#include "kernel.h"
#include "spinlock.h"

/* The plan in force: the VMM's (boot_info.inject_gpa) or our own, armed by
 * SYS_failnth.  Counting is global to the kernel, not per process. */
static struct cowvmm_inject_plan builtin;
static struct cowvmm_inject_plan *plan = &builtin;
static uint64_t rng_state = 0x9e3779b97f4a7c15ull;
static struct spinlock rng_lock = SPINLOCK_INIT("inject rng");
/* Off while the kernel builds init: a failure there could only end the run
 * (Linux panics without init too), so plans count from init's first
 * instruction on -- the allocations of user-visible operations. */
static int inject_live;
/* Is there anything to count for?  A VMM plan always (the campaign reads
 * every site's call count, armed or not); the built-in one only while
 * SYS_failnth has a rule armed (arming restarts the count anyway).  Without
 * it every allocation paid ~25 instructions for nothing: a locked add and the
 * rule dispatch (make bench, icount: fork at 1 page makes 13 allocations). */
static int inject_counting;

void inject_start(void)
{
	inject_live = 1;
}

void inject_init(void)
{
	if (boot.seed)
		rng_state = boot.seed;
	if (!boot.inject_gpa)
		return;
	if (boot.inject_gpa + sizeof(*plan) > boot.ram_size || boot.inject_gpa + sizeof(*plan) < boot.inject_gpa)
		panic("injection plan at %#lx lies outside RAM", boot.inject_gpa);
	struct cowvmm_inject_plan *p = phys_to_virt(boot.inject_gpa);
	if (p->magic != COWVMM_INJECT_MAGIC)
		panic("bad injection plan magic %#lx", p->magic);
	plan = p;
	inject_counting = 1;
	if (p->seed)
		rng_state = p->seed;
}

static uint64_t rng_next(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* site < 0: a boot-time allocation that must never be injected. */
int should_fail(int site)
{
	if (__builtin_expect(!__atomic_load_n(&inject_counting, __ATOMIC_RELAXED), 1) || site < 0 ||
	    site >= COWVMM_SITE_COUNT || !inject_live)
		return 0;
	struct cowvmm_inject_rule *r = &plan->rule[plan->any_site ? 0 : site];
	/* Several CPUs allocate at once: each call gets its own number (which
	 * call is the nth is then up to the interleaving, as it would be). */
	uint64_t n = __atomic_add_fetch(&r->calls, 1, __ATOMIC_RELAXED);
	int fail = 0;
	switch (r->mode) {
	case COWVMM_INJ_NTH:
		fail = n == r->nth;
		break;
	case COWVMM_INJ_FROM_NTH:
		fail = n >= r->nth;
		break;
	case COWVMM_INJ_EVERY_NTH:
		fail = r->nth && n % r->nth == 0;
		break;
	case COWVMM_INJ_RANDOM:
		spin_lock(&rng_lock);
		fail = rng_next() % 1000000u < r->ppm;
		spin_unlock(&rng_lock);
		break;
	default:
		break;
	}
	if (fail)
		__atomic_fetch_add(&r->injected, 1, __ATOMIC_RELAXED);
	return fail;
}

/* SYS_failnth: site -1 counts all sites together.  Arming restarts the call
 * count; mode OFF disarms and returns how many failures were injected. */
long inject_arm(int site, int mode, uint64_t nth)
{
	if (plan != &builtin)
		return -EBUSY;
	if (site < -1 || site >= COWVMM_SITE_COUNT || mode < 0 || mode > (int)COWVMM_INJ_RANDOM)
		return -EINVAL;
	struct cowvmm_inject_rule *r = &builtin.rule[site < 0 ? 0 : site];
	if (mode == COWVMM_INJ_OFF) {
		long injected = (long)r->injected;
		memset(r, 0, sizeof(*r));
		if (site < 0)
			builtin.any_site = 0;
		int armed = 0;
		for (int i = 0; i < COWVMM_SITE_COUNT; i++)
			armed |= builtin.rule[i].mode != COWVMM_INJ_OFF;
		__atomic_store_n(&inject_counting, armed, __ATOMIC_RELAXED);
		return injected;
	}
	builtin.any_site = site < 0;
	memset(r, 0, sizeof(*r));
	r->mode = (uint32_t)mode;
	r->nth = nth;
	r->ppm = mode == COWVMM_INJ_RANDOM ? (uint32_t)MIN(nth, 1000000ull) : 0;
	__atomic_store_n(&inject_counting, 1, __ATOMIC_RELAXED);
	return 0;
}
