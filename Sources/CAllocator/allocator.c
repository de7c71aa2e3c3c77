#include "CAllocator.h"

#include <stdlib.h>  // defines __GLIBC__ on glibc

#if defined(__GLIBC__)
#include <malloc.h>

int callocator_limit_arenas(int arenas) {
    return mallopt(M_ARENA_MAX, arenas) == 1;
}

int callocator_trim(void) {
    return malloc_trim(0);
}

void callocator_usage(unsigned long long *in_use, unsigned long long *held) {
#if __GLIBC__ > 2 || (__GLIBC__ == 2 && __GLIBC_MINOR__ >= 33)
    struct mallinfo2 info = mallinfo2();
    *in_use = info.uordblks + info.hblkhd;
    *held = info.arena + info.hblkhd;
#else
    *in_use = 0;
    *held = 0;
#endif
}
#else
int callocator_limit_arenas(int arenas) {
    (void)arenas;
    return 0;
}

int callocator_trim(void) {
    return 0;
}

void callocator_usage(unsigned long long *in_use, unsigned long long *held) {
    *in_use = 0;
    *held = 0;
}
#endif
