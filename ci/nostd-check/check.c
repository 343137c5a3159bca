/* Links the no_std staticlib into a C program and runs it: proves kafka07-proto links and
 * decodes (5 messages, deep, gzip and snappy included) with no Rust std at all. */
#include <stdio.h>
#include <stdint.h>
uint32_t kafka07_nostd_check(void);
/* The host's precompiled `core` refers to the unwinding personality even with panic=abort;
 * nothing unwinds here (the panic handler loops), so an empty definition satisfies the linker. */
void rust_eh_personality(void) {}
int main(void) {
    uint32_t n = kafka07_nostd_check();
    printf("no_std kafka07-proto decoded %u messages\n", n);
    return n == 5 ? 0 : 1;
}
