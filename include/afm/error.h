// afm::error — the one exception type the library throws for bad input (a corrupt model file,
// a bad argument, a context overflow). Messages name the file, tensor or value at fault.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace afm {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Builds a message from any streamable parts and throws afm::error.
template <typename... Parts>
[[noreturn]] void fail(Parts&&... parts) {
  std::ostringstream os;
  (os << ... << std::forward<Parts>(parts));
  throw error(os.str());
}

}  // namespace afm
