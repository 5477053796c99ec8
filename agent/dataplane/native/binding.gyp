{
  "targets": [
    {
      "target_name": "gingham-tunl0",
      "type": "executable",
      "sources": ["tunl0.c", "tunl0-packets.c", "tunl0-bpf.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-pthread"],
      "ldflags": ["-pthread"],
      "libraries": ["-lpthread"]
    }
  ]
}
