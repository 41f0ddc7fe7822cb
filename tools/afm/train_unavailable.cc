// afm train in a build without libtorch: the command exists and says why it cannot run.
#include "afm/error.h"
#include "tools/afm/commands.h"

namespace afm::cli {

void add_train(CLI::App& app) {
  CLI::App* c = app.add_subcommand(
      "train", "Run a training recipe (unavailable: this afm was built without libtorch).");
  c->allow_extras();
  c->callback([] {
    fail("afm train needs libtorch: install libtorch-dev (scripts/setup.sh does) and rebuild");
  });
}

}  // namespace afm::cli
