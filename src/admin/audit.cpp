// The audit log (audit.hpp).
#include "admin/audit.hpp"

#include <limits>

#include "admin/admin.hpp"
#include "admin/database.hpp"
#include "admin/internal.hpp"

namespace cordon::admin {

void record_audit(Database& db, std::string_view operation, std::string_view arguments, std::string_view result) {
  db.cached("INSERT INTO audit (time, operation, arguments, result) VALUES (?1, ?2, ?3, ?4)")
      .bind(1, now_seconds())
      .bind(2, operation)
      .bind(3, arguments)
      .bind(4, result)
      .run();
}

void record_refusal(Database& db, std::string_view operation, std::string_view arguments,
                    std::string_view message) noexcept {
  try {
    if (db.in_transaction()) return;  // still inside someone's transaction
    Transaction tx(db, Transaction::Kind::kWrite);
    record_audit(db, operation, arguments, std::string("refused: ") + std::string(message));
    tx.commit();
  } catch (...) {
    // Locked, read-only or damaged: the refusal itself was already reported.
  }
}

std::vector<AuditEntry> read_audit(Database& db, int64_t limit) {
  std::vector<AuditEntry> out;
  Statement st = db.prepare(
      "SELECT id, time, operation, arguments, result FROM "
      "(SELECT * FROM audit ORDER BY id DESC LIMIT ?1) AS newest ORDER BY id");
  st.bind(1, limit > 0 ? limit : std::numeric_limits<int64_t>::max());
  while (st.step()) {
    out.push_back(AuditEntry{st.int64(0), st.int64(1), st.text(2), st.text(3), st.text(4)});
  }
  return out;
}

}  // namespace cordon::admin
