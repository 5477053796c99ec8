{
  "targets": [
    {
      "target_name": "gingham-tunl0",
      "type": "executable",
      "sources": ["tunl0.c", "tunl0-packets.c"],
      "cflags": ["-O2", "-Wall", "-Wextra", "-pthread"],
      "ldflags": ["-pthread"],
      "libraries": ["-lpthread"]
    }
  ]
}
