#include "core/status.hpp"

namespace cordon {

std::string_view path_kind_name(PathKind kind) {
  switch (kind) {
    case PathKind::kDirect: return "direct";
    case PathKind::kRelayed: return "relayed";
    case PathKind::kTcp: return "tcp";
    case PathKind::kNone: break;
  }
  return "none";
}

std::string_view reachability_name(Reachability r) {
  switch (r) {
    case Reachability::kReachable: return "reachable";
    case Reachability::kUnreachable: return "unreachable";
    case Reachability::kUnknown: break;
  }
  return "unknown";
}

}  // namespace cordon
