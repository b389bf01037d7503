// A barrier for the parts of one parallel region (the AutoDeco decision's first two steps). The
// counter is plain memory that the controller owns and the parts' value copies point to; C's
// atomic builtins act on it in place (an add and loads, with acquire/release order).
#include "CKernels.h"
#include <sched.h>

void ad_barrier_arrive_and_wait(long *counter, long target) {
    __atomic_fetch_add(counter, 1, __ATOMIC_ACQ_REL);
    for (long spins = 0; __atomic_load_n(counter, __ATOMIC_ACQUIRE) < target; spins++) {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
        // A pool may have more threads than free cores: let the part being waited for run.
        if ((spins & 16383) == 16383) sched_yield();
    }
}
