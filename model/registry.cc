// The architecture registry: one line per architecture file.
#include "model/architecture.h"

namespace afm {

extern const architecture kAfmDense;
extern const architecture kLlama;

namespace {
const architecture* const kArchitectures[] = {
    &kAfmDense,
    &kLlama,
};
}  // namespace

const architecture* find_architecture(const std::string& name) {
  for (const architecture* a : kArchitectures)
    if (name == a->name) return a;
  return nullptr;
}

std::string architecture_names() {
  std::string s;
  for (const architecture* a : kArchitectures) s += (s.empty() ? "" : ", ") + std::string(a->name);
  return s;
}

}  // namespace afm
