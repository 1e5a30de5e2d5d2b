#pragma once
// `attnzoo train --nproc N`: runs N local workers of this same command on loopback, torchrun-style.
#include <string>
#include <vector>

namespace attnzoo::cli {

/// This process's command line (argv), from /proc/self/cmdline.
std::vector<std::string> own_command_line();
/// Starts `nproc` copies of `argv` with RANK / WORLD_SIZE / LOCAL_RANK / MASTER_ADDR=127.0.0.1 /
/// MASTER_PORT (a free port) and OMP_NUM_THREADS = cores / nproc unless set; waits for them. When a worker
/// fails, the others are terminated and the failing rank and status are reported. Returns the exit code.
int launch_local_workers(int nproc, const std::vector<std::string>& argv);

}  // namespace attnzoo::cli
