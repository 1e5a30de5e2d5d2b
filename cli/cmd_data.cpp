#include "commands.h"

#include <attnzoo/datasets/dataset.h>

#include <iostream>

namespace attnzoo::cli {

void add_data_command(CLI::App& app, Action& action) {
  auto* data = app.add_subcommand("data", "dataset utilities");
  data->require_subcommand(1);
  auto* ex = data->add_subcommand("export", "write a dataset as PNG class folders OUT/<split>/<class>/*.png");
  auto spec = std::make_shared<std::string>();
  auto out = std::make_shared<std::string>();
  auto splits = std::make_shared<std::vector<std::string>>(std::vector<std::string>{"train", "test"});
  ex->add_option("dataset", *spec, "fashion-mnist, mnist:DIR, cifar10:DIR, ...")->required();
  ex->add_option("out", *out, "output folder")->required();
  ex->add_option("--splits", *splits, "splits to export (train test)");
  ex->callback([&action, spec, out, splits] {
    action = [spec, out, splits] {
      for (const auto& s : *splits) {
        auto ds = datasets::open_dataset(*spec, s);
        datasets::export_image_folder(*ds, *out, s);
        std::cout << "wrote " << ds->size() << " images of " << ds->describe() << " to " << *out << "/" << s << "\n";
      }
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
