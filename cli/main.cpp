// attnzoo: the command-line front end of the zoo. Thin by design: flags in, library calls, output.
#include "commands.h"

#include <attnzoo/core/allocator.h>
#include <attnzoo/core/diagnostics.h>
#include <attnzoo/core/input_limits.h>
#include <attnzoo/datasets/image.h>
#include <attnzoo/modules/fast_kernels.h>

#include <ATen/Parallel.h>

#include <cstdlib>
#include <iostream>
#include <thread>

int main(int argc, char** argv) {
  CLI::App app{"attnzoo: attention model zoo on LibTorch (list, inspect, run, train, evaluate, benchmark models)"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "attnzoo 0.1.0");
  // Default: all cores, unless OMP_NUM_THREADS says otherwise (as `train --nproc` sets it for its workers).
  int threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  if (const char* omp = std::getenv("OMP_NUM_THREADS"); omp && std::atoi(omp) > 0) threads = std::atoi(omp);
  app.add_option("--threads", threads, "intra-op threads (default: all cores, or OMP_NUM_THREADS)")
      ->check(CLI::PositiveNumber);
  app.add_flag_function("--reference-kernels", [](int64_t) { attnzoo::modules::set_fast_kernels(false); },
                        "run the reference ATen compositions instead of attnzoo's own CPU kernels (A/B comparisons)");
  int64_t max_pixels = attnzoo::kDefaultMaxImagePixels;
  app.add_option("--max-image-pixels", max_pixels,
                 "images with more pixels are refused before decoding (default 89478485, Pillow's; 0: no limit)")
      ->check(attnzoo::cli::at_least(0));
  app.fallthrough();  // global options are accepted after the subcommand as well
  bool system_allocator = false;
  app.add_flag("--no-allocator-tuning", system_allocator,
               "keep glibc's default mmap/trim thresholds (freed tensor buffers go back to the system; A/B)");

  attnzoo::cli::Action action;
  attnzoo::cli::add_list_command(app, action);
  attnzoo::cli::add_info_command(app, action);
  attnzoo::cli::add_forward_command(app, action);
  attnzoo::cli::add_train_command(app, action);
  attnzoo::cli::add_eval_commands(app, action);
  attnzoo::cli::add_bench_command(app, action);
  attnzoo::cli::add_data_command(app, action);
  attnzoo::cli::add_export_command(app, action);
  attnzoo::cli::add_plot_command(app, action);
  attnzoo::cli::add_viz_command(app, action);

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    std::cerr << "attnzoo: " << e.what() << attnzoo::cli::did_you_mean(app, argc, argv) << " (see --help)\n";
    return 2;
  }
  // LibTorch 1.13 defaults to hardware_concurrency()/2 threads; set it explicitly so ATen, oneDNN and
  // OpenBLAS agree.
  at::set_num_threads(threads);
  attnzoo::datasets::set_max_image_pixels(max_pixels);
  if (!system_allocator) attnzoo::tune_allocator_for_tensors();
  try {
    return action ? action() : 0;
  } catch (const attnzoo::cli::UsageError& e) {
    std::cerr << "attnzoo: " << e.what() << "\n";
    return 2;
  } catch (const std::invalid_argument& e) {
    std::cerr << "attnzoo: " << e.what() << "\n";
    return 2;
  } catch (const c10::Error& e) {
    std::cerr << "attnzoo: " << attnzoo::first_line_of(e.what_without_backtrace()) << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "attnzoo: " << e.what() << "\n";
    return 1;
  }
}
