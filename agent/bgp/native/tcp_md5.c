// TCP-MD5 signatures (RFC 2385) for BGP sessions: Node's sockets have no TCP_MD5SIG option, so
// this addon sets it. Two functions:
//   setMd5(fd, peerAddress, key)   on a listening socket (or any socket): sign segments to/from peer
//   connectMd5(peer, port, local, key, timeoutMs) -> Promise<fd>: a socket whose key is set before
//       the SYN leaves (the only way the handshake itself is signed), connected in a worker thread.
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/tcp.h>
#include <netinet/in.h>
#include <node_api.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define CHECK(call) do { if ((call) != napi_ok) { napi_throw_error(env, NULL, "N-API call failed: " #call); return NULL; } } while (0)

static int set_md5(int fd, const char *peer, const char *key, char *err, size_t errlen) {
  struct tcp_md5sig sig;
  memset(&sig, 0, sizeof sig);
  struct sockaddr_in *sin = (struct sockaddr_in *)&sig.tcpm_addr;
  sin->sin_family = AF_INET;
  if (inet_pton(AF_INET, peer, &sin->sin_addr) != 1) {
    snprintf(err, errlen, "%s is not an IPv4 address", peer);
    return -1;
  }
  size_t len = strlen(key);
  if (len > TCP_MD5SIG_MAXKEYLEN) {
    snprintf(err, errlen, "the password is longer than %d characters", TCP_MD5SIG_MAXKEYLEN);
    return -1;
  }
  sig.tcpm_keylen = (unsigned short)len;
  memcpy(sig.tcpm_key, key, len);
  if (setsockopt(fd, IPPROTO_TCP, TCP_MD5SIG, &sig, sizeof sig) != 0) {
    snprintf(err, errlen, "setsockopt(TCP_MD5SIG): %s", strerror(errno));
    return -1;
  }
  return 0;
}

static int get_string(napi_env env, napi_value value, char *out, size_t size) {
  size_t len;
  return napi_get_value_string_utf8(env, value, out, size, &len) == napi_ok ? 0 : -1;
}

static napi_value SetMd5(napi_env env, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  int32_t fd;
  char peer[64], key[128], err[160];
  if (argc < 3 || napi_get_value_int32(env, argv[0], &fd) != napi_ok || get_string(env, argv[1], peer, sizeof peer) || get_string(env, argv[2], key, sizeof key)) {
    napi_throw_type_error(env, NULL, "setMd5(fd, peerAddress, key)");
    return NULL;
  }
  if (set_md5(fd, peer, key, err, sizeof err) != 0) {
    napi_throw_error(env, NULL, err);
    return NULL;
  }
  return NULL;
}

typedef struct {
  char peer[64], local[64], key[128];
  int port, timeout_ms, fd;
  char err[200];
  napi_deferred deferred;
  napi_async_work work;
} ConnectJob;

static void connect_execute(napi_env env, void *data) {
  (void)env;
  ConnectJob *job = data;
  job->fd = -1;
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) { snprintf(job->err, sizeof job->err, "socket: %s", strerror(errno)); return; }
  if (set_md5(fd, job->peer, job->key, job->err, sizeof job->err) != 0) { close(fd); return; }
  if (job->local[0]) {
    struct sockaddr_in la;
    memset(&la, 0, sizeof la);
    la.sin_family = AF_INET;
    inet_pton(AF_INET, job->local, &la.sin_addr);
    if (bind(fd, (struct sockaddr *)&la, sizeof la) != 0) {
      snprintf(job->err, sizeof job->err, "bind %s: %s", job->local, strerror(errno));
      close(fd);
      return;
    }
  }
  struct sockaddr_in pa;
  memset(&pa, 0, sizeof pa);
  pa.sin_family = AF_INET;
  pa.sin_port = htons((unsigned short)job->port);
  inet_pton(AF_INET, job->peer, &pa.sin_addr);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  if (connect(fd, (struct sockaddr *)&pa, sizeof pa) != 0 && errno != EINPROGRESS) {
    snprintf(job->err, sizeof job->err, "%s", errno == ECONNREFUSED ? "ECONNREFUSED" : strerror(errno));
    close(fd);
    return;
  }
  struct pollfd p = { .fd = fd, .events = POLLOUT };
  int n = poll(&p, 1, job->timeout_ms);
  if (n <= 0) { snprintf(job->err, sizeof job->err, "ETIMEDOUT"); close(fd); return; }
  int soerr = 0;
  socklen_t sl = sizeof soerr;
  getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
  if (soerr != 0) {
    snprintf(job->err, sizeof job->err, "%s", soerr == ECONNREFUSED ? "ECONNREFUSED" : strerror(soerr));
    close(fd);
    return;
  }
  job->fd = fd;
}

static void connect_complete(napi_env env, napi_status status, void *data) {
  ConnectJob *job = data;
  napi_value result;
  if (status == napi_ok && job->fd >= 0) {
    napi_create_int32(env, job->fd, &result);
    napi_resolve_deferred(env, job->deferred, result);
  } else {
    napi_value message;
    napi_create_string_utf8(env, job->err[0] ? job->err : "connect failed", NAPI_AUTO_LENGTH, &message);
    napi_create_error(env, NULL, message, &result);
    napi_reject_deferred(env, job->deferred, result);
  }
  napi_delete_async_work(env, job->work);
  free(job);
}

static napi_value ConnectMd5(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  ConnectJob *job = calloc(1, sizeof *job);
  if (!job) { napi_throw_error(env, NULL, "out of memory"); return NULL; }
  if (argc < 5 || get_string(env, argv[0], job->peer, sizeof job->peer) || napi_get_value_int32(env, argv[1], &job->port) != napi_ok
      || get_string(env, argv[2], job->local, sizeof job->local) || get_string(env, argv[3], job->key, sizeof job->key)
      || napi_get_value_int32(env, argv[4], &job->timeout_ms) != napi_ok) {
    free(job);
    napi_throw_type_error(env, NULL, "connectMd5(peer, port, localAddress, key, timeoutMs)");
    return NULL;
  }
  napi_value promise, name;
  CHECK(napi_create_promise(env, &job->deferred, &promise));
  CHECK(napi_create_string_utf8(env, "connectMd5", NAPI_AUTO_LENGTH, &name));
  CHECK(napi_create_async_work(env, NULL, name, connect_execute, connect_complete, job, &job->work));
  CHECK(napi_queue_async_work(env, job->work));
  return promise;
}

static napi_value Init(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    { "setMd5", NULL, SetMd5, NULL, NULL, NULL, napi_default, NULL },
    { "connectMd5", NULL, ConnectMd5, NULL, NULL, NULL, napi_default, NULL },
  };
  napi_define_properties(env, exports, 2, props);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
