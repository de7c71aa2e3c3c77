#ifndef CALLOCATOR_H
#define CALLOCATOR_H

/// Limits glibc malloc to `arenas` arenas (mallopt M_ARENA_MAX); 1 when applied, 0 elsewhere
/// (another C library) or when glibc refused.
int callocator_limit_arenas(int arenas);

/// Returns free heap memory of every glibc arena to the kernel (malloc_trim(0)); 1 when some
/// was released, 0 when none was or on another C library.
int callocator_trim(void);

/// Bytes malloc has in use (mallinfo2 uordblks + hblkhd) and holds from the kernel (arena +
/// hblkhd), summed over arenas; both 0 on another C library.
void callocator_usage(unsigned long long *in_use, unsigned long long *held);

#endif
