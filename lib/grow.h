/*
 * grow — the one "make room for `need` elements" helper the encoders share: doubles the capacity
 * (from 16) until it holds `need`, so appends are amortised O(1). *p and *cap are updated only on
 * success; on -ENOMEM the old array is untouched and still owned by the caller.
 */
#ifndef SOLDER_LIB_GROW_H
#define SOLDER_LIB_GROW_H

#include <errno.h>
#include <stdlib.h>

static inline int grow_array(void **p, size_t *cap, size_t need, size_t elem)
{
	if (need <= *cap)
		return 0;
	size_t n = *cap ? *cap : 16;
	while (n < need)
		n *= 2;
	void *q = realloc(*p, n * elem);
	if (!q)
		return -ENOMEM;
	*p = q;
	*cap = n;
	return 0;
}

#endif
