/*
 * kubeplane-vpc-cni: the CNI plugin executable the runtime starts for every pod (spec 1.0.0).
 *
 * It is only a courier: VERSION is answered here, everything else goes to the node's ipamd over
 * its unix socket as the raw CNI environment plus the config bytes, and ipamd (which parses and
 * validates them exactly as plugin.py does) answers "<exit code>\n<stdout bytes>". Being C rather
 * than Python saves the ~30 ms an interpreter takes to start, which was most of a pod's ADD.
 * Errors it meets itself (no socket in the config, ipamd unreachable, input too large) are
 * printed as CNI error JSON with the same codes and messages as plugin.py, exit code 1.
 *
 * Wire format (ipam/shim.py reads it): "KPCNI1\n", then for each of CNI_COMMAND, CNI_CONTAINERID,
 * CNI_NETNS, CNI_IFNAME, CNI_ARGS, CNI_PATH and the config: "<decimal length>\n<bytes>".
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#define MAX_CONFIG (1024 * 1024)
#define MAX_ENV_VALUE (64 * 1024)
#define MAX_REPLY (4 * 1024 * 1024)
#define DEFAULT_TIMEOUT_SECONDS 60.0

enum {
    ERR_INVALID_ENVIRONMENT = 4,
    ERR_INVALID_CONFIG = 7,
    ERR_TRY_AGAIN_LATER = 11,
    ERR_INTERNAL = 999,
};

static const char MAGIC[] = "KPCNI1\n";
static const char *const ENV_FIELDS[] = {"CNI_COMMAND", "CNI_CONTAINERID", "CNI_NETNS",
                                         "CNI_IFNAME", "CNI_ARGS", "CNI_PATH"};
#define N_ENV_FIELDS (sizeof(ENV_FIELDS) / sizeof(ENV_FIELDS[0]))
/* Byte-identical to json.dumps(result.version_reply()). */
static const char VERSION_REPLY[] =
    "{\"cniVersion\": \"1.0.0\", \"supportedVersions\": [\"0.3.0\", \"0.3.1\", \"0.4.0\", \"1.0.0\"]}";

/* Static buffers: sizes are fixed, so there is no allocation to fail or to free. */
static char config[MAX_CONFIG + 1];
static char request[sizeof(MAGIC) + (N_ENV_FIELDS + 1) * 24 + N_ENV_FIELDS * MAX_ENV_VALUE + MAX_CONFIG];
static char reply[MAX_REPLY + 1];

/* send() with MSG_NOSIGNAL on the socket: an ipamd that hangs up early must give an error JSON,
 * not a SIGPIPE death with nothing printed. */
static int write_all(int fd, const char *data, size_t length, int is_socket) {
    while (length > 0) {
        ssize_t written = is_socket ? send(fd, data, length, MSG_NOSIGNAL) : write(fd, data, length);
        if (written < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        data += written;
        length -= (size_t)written;
    }
    return 0;
}

/* Reads until EOF into buf (capacity cap); returns the length, -1 on error, -2 if more than cap. */
static ssize_t read_all(int fd, char *buf, size_t cap) {
    size_t length = 0;
    for (;;) {
        if (length == cap) {
            char extra;
            ssize_t more = read(fd, &extra, 1);
            if (more < 0 && errno == EINTR) continue;
            if (more < 0) return -1;
            return more == 0 ? (ssize_t)length : -2;
        }
        ssize_t got = read(fd, buf + length, cap - length);
        if (got < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        if (got == 0) return (ssize_t)length;
        length += (size_t)got;
    }
}

static void put_json_string(const char *text) {
    putchar('"');
    for (const unsigned char *c = (const unsigned char *)text; *c; c++) {
        if (*c == '"' || *c == '\\') {
            putchar('\\');
            putchar(*c);
        } else if (*c < 0x20) {
            printf("\\u%04x", *c);
        } else {
            putchar(*c);
        }
    }
    putchar('"');
}

static int fail(int code, const char *msg, const char *details) {
    printf("{\"cniVersion\": \"1.0.0\", \"code\": %d, \"msg\": ", code);
    put_json_string(msg);
    fputs(", \"details\": ", stdout);
    put_json_string(details);
    putchar('}');
    fflush(stdout);
    return 1;
}

/*
 * Finds `"key"` followed by ':' in the config and returns the position just after the ':' (and any
 * whitespace), or -1. Only good enough to locate our own top-level keys; ipamd validates the
 * whole document properly afterwards.
 */
static ptrdiff_t find_value(const char *json, size_t length, const char *key) {
    size_t key_length = strlen(key);
    for (size_t i = 0; i + key_length + 2 <= length; i++) {
        if (json[i] != '"' || memcmp(json + i + 1, key, key_length) != 0 || json[i + 1 + key_length] != '"')
            continue;
        size_t j = i + key_length + 2;
        while (j < length && strchr(" \t\r\n", json[j]) && json[j]) j++;
        if (j >= length || json[j] != ':') continue;
        j++;
        while (j < length && strchr(" \t\r\n", json[j]) && json[j]) j++;
        return j < length ? (ptrdiff_t)j : -1;
    }
    return -1;
}

/* Copies the JSON string at `at` into out (NUL-terminated); 0 on success, -1 if it is not a plain
 * string (escapes other than \" \\ \/ are refused: a socket path needs none) or does not fit. */
static int copy_json_string(const char *json, size_t length, size_t at, char *out, size_t out_cap) {
    if (at >= length || json[at] != '"') return -1;
    size_t used = 0;
    for (size_t i = at + 1; i < length; i++) {
        char c = json[i];
        if (c == '"') {
            out[used] = '\0';
            return 0;
        }
        if (c == '\\') {
            if (++i >= length || (json[i] != '"' && json[i] != '\\' && json[i] != '/')) return -1;
            c = json[i];
        }
        if (c == '\0' || used + 1 >= out_cap) return -1;
        out[used++] = c;
    }
    return -1;
}

static double timeout_seconds(size_t length) {
    ptrdiff_t at = find_value(config, length, "timeoutSeconds");
    if (at < 0) return DEFAULT_TIMEOUT_SECONDS;
    char *end = NULL;
    double value = strtod(config + at, &end); /* config is NUL-terminated: strtod stays inside */
    return (end != config + at && value > 0 && value < 86400) ? value : DEFAULT_TIMEOUT_SECONDS;
}

/* Appends "<length>\n<bytes>" to the request; returns the new length (the buffer is sized for
 * the largest values main() lets through). */
static size_t append_field(size_t used, const char *value, size_t length) {
    int header = snprintf(request + used, sizeof(request) - used, "%zu\n", length);
    if (header < 0 || (size_t)header + length >= sizeof(request) - used) abort();
    used += (size_t)header;
    memcpy(request + used, value, length);
    return used + length;
}

static int unreachable(const char *socket_path, const char *reason) {
    char details[sizeof(((struct sockaddr_un *)0)->sun_path) + 256];
    snprintf(details, sizeof(details), "%s: %s", socket_path, reason);
    return fail(ERR_TRY_AGAIN_LATER, "failed to reach ipamd", details);
}

int main(void) {
    const char *command = getenv("CNI_COMMAND");
    if (command == NULL) command = "";
    if (strcmp(command, "VERSION") == 0) {
        fputs(VERSION_REPLY, stdout);
        fflush(stdout);
        return 0;
    }
    if (strcmp(command, "ADD") != 0 && strcmp(command, "DEL") != 0 && strcmp(command, "CHECK") != 0) {
        char msg[128];
        snprintf(msg, sizeof(msg), "unknown CNI_COMMAND '%.64s'", command);
        return fail(ERR_INVALID_ENVIRONMENT, msg, "");
    }

    ssize_t config_length = read_all(STDIN_FILENO, config, MAX_CONFIG);
    if (config_length == -2) {
        char details[64];
        snprintf(details, sizeof(details), "more than %d bytes", MAX_CONFIG);
        return fail(ERR_INVALID_CONFIG, "the network configuration is too large", details);
    }
    if (config_length < 0) return fail(ERR_INVALID_CONFIG, "failed to read the network configuration", strerror(errno));
    config[config_length] = '\0';

    struct sockaddr_un address;
    memset(&address, 0, sizeof(address));
    address.sun_family = AF_UNIX;
    ptrdiff_t at = find_value(config, (size_t)config_length, "ipamdSocket");
    if (at < 0 || copy_json_string(config, (size_t)config_length, (size_t)at, address.sun_path,
                                   sizeof(address.sun_path)) != 0 || address.sun_path[0] == '\0')
        return fail(ERR_INVALID_CONFIG, "the network configuration has no ipamdSocket",
                    "expected a plain string shorter than 108 bytes");

    size_t used = sizeof(MAGIC) - 1;
    memcpy(request, MAGIC, used);
    for (size_t i = 0; i < N_ENV_FIELDS; i++) {
        const char *value = getenv(ENV_FIELDS[i]);
        if (value == NULL) value = "";
        size_t length = strlen(value);
        if (length > MAX_ENV_VALUE) {
            char msg[96];
            snprintf(msg, sizeof(msg), "environment variable %s is too long", ENV_FIELDS[i]);
            return fail(ERR_INVALID_ENVIRONMENT, msg, "more than 65536 bytes");
        }
        used = append_field(used, value, length);
    }
    used = append_field(used, config, (size_t)config_length);

    int connection = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (connection < 0) return unreachable(address.sun_path, strerror(errno));
    double timeout = timeout_seconds((size_t)config_length);
    struct timeval limit = {.tv_sec = (time_t)timeout, .tv_usec = (suseconds_t)((timeout - (double)(time_t)timeout) * 1e6)};
    if (setsockopt(connection, SOL_SOCKET, SO_RCVTIMEO, &limit, sizeof(limit)) != 0 ||
        setsockopt(connection, SOL_SOCKET, SO_SNDTIMEO, &limit, sizeof(limit)) != 0 ||
        connect(connection, (struct sockaddr *)&address, sizeof(address)) != 0 ||
        write_all(connection, request, used, 1) != 0)
        return unreachable(address.sun_path, strerror(errno));

    ssize_t reply_length = read_all(connection, reply, MAX_REPLY);
    int read_errno = errno;
    close(connection);
    if (reply_length == -1) return unreachable(address.sun_path, strerror(read_errno));
    if (reply_length == -2) return fail(ERR_INTERNAL, "internal error in kubeplane-vpc-cni", "ipamd's answer is too large");
    if (reply_length == 0)
        return fail(ERR_TRY_AGAIN_LATER, "ipamd closed the connection without an answer", address.sun_path);
    reply[reply_length] = '\0';
    /* "<0|1>\n<stdout>": anything else is a broken ipamd. */
    if (reply_length < 2 || (reply[0] != '0' && reply[0] != '1') || reply[1] != '\n')
        return fail(ERR_INTERNAL, "internal error in kubeplane-vpc-cni", "malformed answer from ipamd");
    if (write_all(STDOUT_FILENO, reply + 2, (size_t)reply_length - 2, 0) != 0) return 1;
    return reply[0] - '0';
}
