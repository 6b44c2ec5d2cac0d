/* Leaks on purpose. tests/leak runs it under the same valgrind command and the same
 * LeakSanitizer settings as the training run, and requires the leak to be reported:
 * proof that those checks are live and would catch a leak in luacnn. */
#include <stdio.h>
#include <stdlib.h>

#include "tensor.h"

/* volatile: the compiler may not drop the allocation or keep the pointer around */
static void *volatile sink;

int main(void) {
  sink = malloc(4096);
  sink = NULL;
  puts("leaked 4096 bytes");
  return 0;
}
