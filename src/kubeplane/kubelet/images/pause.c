/* The pod sandbox's init process: it holds the pod's namespaces open, reaps zombies (it is PID 1
 * of the pod's PID namespace when that namespace is shared) and exits on SIGINT or SIGTERM.
 * Built static by kubeplane.kubelet.images so the image needs nothing else. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_terminate(int signo) {
    (void)signo;
    _exit(0);
}

static void on_child(int signo) {
    (void)signo;
    /* Several children may exit before one SIGCHLD is delivered: reap all that are ready. */
    while (waitpid(-1, NULL, WNOHANG) > 0) {
    }
}

static void handle(int signo, void (*handler)(int)) {
    struct sigaction action;
    memset(&action, 0, sizeof(action));
    action.sa_handler = handler;
    action.sa_flags = SA_RESTART | (signo == SIGCHLD ? SA_NOCLDSTOP : 0);
    sigemptyset(&action.sa_mask);
    if (sigaction(signo, &action, NULL) != 0) {
        perror("pause: sigaction");
        exit(1);
    }
}

int main(void) {
    handle(SIGINT, on_terminate);
    handle(SIGTERM, on_terminate);
    handle(SIGCHLD, on_child);
    for (;;) {
        pause();
    }
}
