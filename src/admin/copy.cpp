// Copying a network database between backends (copy.hpp).
#include "admin/copy.hpp"

#include <optional>

#include "admin/audit.hpp"
#include "admin/database.hpp"
#include "admin/schema.hpp"

namespace cordon::admin {
namespace {

// hosts.registry, .rendezvous and .courier name other hosts.
bool late_column(std::string_view table, std::string_view column) {
  return table == "hosts" && (column == "registry" || column == "rendezvous" || column == "courier");
}

void bind_value(Statement& to, int index, const Statement& from, int column) {
  switch (from.kind(column)) {
    case ValueKind::kNull: to.bind_null(index); break;
    case ValueKind::kInteger: to.bind(index, from.int64(column)); break;
    case ValueKind::kText: to.bind(index, from.text(column)); break;
    case ValueKind::kBlob: to.bind_blob(index, from.blob(column)); break;
  }
}

std::string insert_sql(std::string_view table, const std::vector<std::string>& columns) {
  std::string names, values;
  for (size_t i = 0; i < columns.size(); ++i) {
    names += (i == 0 ? "" : ", ") + columns[i];
    values += (i == 0 ? "?" : ", ?") + std::to_string(i + 1);
  }
  return "INSERT INTO " + std::string(table) + " (" + names + ") VALUES (" + values + ")";
}

int64_t copy_table(Database& from, Database& to, std::string_view table) {
  Statement rows = from.prepare("SELECT * FROM " + std::string(table));
  std::optional<Statement> insert;
  std::vector<std::string> columns;
  int64_t count = 0;
  while (rows.step()) {
    if (!insert) {
      for (int c = 0; c < rows.columns(); ++c) columns.push_back(rows.column_name(c));
      insert.emplace(to.prepare(insert_sql(table, columns)));
    }
    for (int c = 0; c < rows.columns(); ++c) {
      if (late_column(table, columns[static_cast<size_t>(c)])) {
        insert->bind_null(c + 1);
      } else {
        bind_value(*insert, c + 1, rows, c);
      }
    }
    insert->run();
    ++count;
  }
  return count;
}

void copy_host_references(Database& from, Database& to) {
  Statement hosts = from.prepare("SELECT id, registry, rendezvous, courier FROM hosts");
  Statement update = to.prepare("UPDATE hosts SET registry = ?2, rendezvous = ?3, courier = ?4 WHERE id = ?1");
  while (hosts.step()) {
    if (hosts.is_null(1) && hosts.is_null(2) && hosts.is_null(3)) continue;
    for (int c = 0; c < 4; ++c) bind_value(update, c + 1, hosts, c);
    update.run();
  }
}

}  // namespace

CopiedRows copy_tables(Database& from, Database& to) {
  CopiedRows out;
  for (const char* table : schema_tables()) {
    out.emplace_back(table, copy_table(from, to, table));
    if (std::string_view(table) == "hosts") copy_host_references(from, to);
  }
  for (const char* table : schema_tables()) to.after_copy(table);
  return out;
}

CopiedRows copy_network(Database& from, Database& to, std::string_view operation, const std::string& arguments) {
  Transaction tx(to, Transaction::Kind::kMigration);
  to.apply_migrations();
  CopiedRows rows = copy_tables(from, to);
  record_audit(to, operation, arguments, "ok");
  tx.commit();
  return rows;
}

}  // namespace cordon::admin
