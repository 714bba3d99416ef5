/* exitport STATUS: ends the machine with STATUS through the isa-debug-exit
 * port 0xf4, the way the project's freestanding guests end (rt_exit):
 * QEMU exits with (STATUS << 1) | 1, turtles with STATUS. The kernel has
 * no /dev/port (CONFIG_DEVPORT is off), so the port is opened with
 * ioperm(2), which needs CAP_SYS_RAWIO: /init runs as root. */
#include <stdio.h>
#include <stdlib.h>
#include <sys/io.h>

int main(int argc, char **argv)
{
    char *end;
    long status = argc == 2 ? strtol(argv[1], &end, 10) : -1;
    if (argc != 2 || *end != '\0' || status < 0 || status > 255) {
        fprintf(stderr, "usage: exitport STATUS (0-255)\n");
        return 2;
    }
    if (ioperm(0xf4, 4, 1) != 0) {
        perror("exitport: ioperm");
        return 1;
    }
    outb((unsigned char)status, 0xf4);
    /* Still running: no isa-debug-exit device on this machine. */
    fprintf(stderr, "exitport: nothing answered at port 0xf4\n");
    return 1;
}
