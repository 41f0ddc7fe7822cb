// The architecture registry: one line per architecture file.
#include "model/architecture.h"

namespace afm {

extern const architecture kAfmDense;
extern const architecture kLlama;
extern const architecture kAfmPtMoe;

namespace {
const architecture* const kArchitectures[] = {
    &kAfmDense,
    &kLlama,
    &kAfmPtMoe,
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
