#include "commands.h"

#include <attnzoo/datasets/lra.h>

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

  // LRA ListOps with the published generator rules, seeded (the released TSV format).
  auto* lo = data->add_subcommand("make-listops", "generate ListOps basic_{train,val,test}.tsv (LRA generator rules)");
  auto out_dir = std::make_shared<std::string>();
  auto counts = std::make_shared<std::vector<int64_t>>(std::vector<int64_t>{96000, 2000, 2000});
  auto go = std::make_shared<datasets::ListOpsGeneratorOptions>();
  lo->add_option("out", *out_dir, "output folder")->required();
  lo->add_option("--sizes", *counts, "train val test sizes (96000 2000 2000)")->expected(3);
  lo->add_option("--min-length", go->min_length, "keep expressions longer than this (500)");
  lo->add_option("--max-length", go->max_length, "and shorter than this (2000)");
  lo->add_option("--max-depth", go->max_depth, "maximum tree depth (10)");
  lo->add_option("--max-args", go->max_args, "maximum operator arguments (10)");
  lo->add_option("--seed", go->seed, "random seed (0)");
  lo->callback([&action, out_dir, counts, go] {
    action = [out_dir, counts, go] {
      datasets::write_listops_dataset(*out_dir, (*counts)[0], (*counts)[1], (*counts)[2], *go);
      std::cout << "wrote ListOps basic_{train,val,test}.tsv (" << (*counts)[0] << "/" << (*counts)[1] << "/"
                << (*counts)[2] << ") to " << *out_dir << "\n";
      return 0;
    };
  });

  auto* pf = data->add_subcommand("make-pathfinder", "generate a Pathfinder dataset in the released layout (imgs/, metadata/)");
  auto pf_dir = std::make_shared<std::string>();
  auto pf_count = std::make_shared<int64_t>(2000);
  auto po = std::make_shared<datasets::PathfinderGeneratorOptions>();
  pf->add_option("out", *pf_dir, "output folder (the ROOT that train --task lra-pathfinder --data reads)")->required();
  pf->add_option("--count", *pf_count, "images (2000)")->check(CLI::PositiveNumber);
  pf->add_option("--size", po->image_size, "image side in pixels (32)")->check(CLI::Range(16, 1024));
  pf->add_option("--contour-length", po->contour_length, "paddles per path (14; LRA levels 6, 9, 14)")->check(CLI::Range(2, 100));
  pf->add_option("--distractors", po->distractors, "distractor paths (4)")->check(CLI::Range(0, 100));
  pf->add_option("--per-folder", po->per_folder, "images per imgs/<n>/ folder (1000)")->check(CLI::PositiveNumber);
  pf->add_option("--max-turn", po->max_turn, "largest bend between paddles, radians (0.5)")->check(CLI::Range(0.0, 3.2));
  pf->add_option("--seed", po->seed, "random seed (0)");
  pf->callback([&action, pf_dir, pf_count, po] {
    action = [pf_dir, pf_count, po] {
      datasets::write_pathfinder_dataset(*pf_dir, *pf_count, *po);
      std::cout << "wrote " << *pf_count << " Pathfinder images (" << po->image_size << " px, contour length "
                << po->contour_length << ") to " << *pf_dir << "\n";
      return 0;
    };
  });
}

}  // namespace attnzoo::cli
