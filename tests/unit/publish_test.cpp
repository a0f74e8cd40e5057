// Quiescent-state reclamation (core/publish.hpp), one step at a time: a
// retired table lives while a worker that may have loaded it is inside a
// batch, and is freed once every worker is idle or has entered a later one.
#include "core/publish.hpp"

#include <gtest/gtest.h>

#include <memory>

namespace cordon {
namespace {

// A table that counts its destructions.
struct Table {
  Table(int value, int* freed) : value(value), freed(freed) {}
  ~Table() { ++*freed; }
  int value;
  int* freed;
};

std::unique_ptr<const Table> table(int value, int& freed) { return std::make_unique<const Table>(value, &freed); }

TEST(Publish, IdleWorkersHoldNothing) {
  int freed = 0;
  Reclaimer r(2);
  Published<Table> p(table(1, freed));
  p.publish(table(2, freed), r);
  EXPECT_EQ(p.load()->value, 2);
  EXPECT_EQ(p.reclaim(r), 0u);
  EXPECT_EQ(freed, 1);
}

TEST(Publish, AWorkerInsideABatchKeepsWhatItMayHaveLoaded) {
  int freed = 0;
  Reclaimer r(2);
  Published<Table> p(table(1, freed));
  r.enter(0);
  const Table* seen = p.load();
  p.publish(table(2, freed), r);
  EXPECT_EQ(p.reclaim(r), 1u);
  EXPECT_EQ(freed, 0);
  EXPECT_EQ(seen->value, 1);  // still readable
  // Worker 1 entering now sees the new table and holds up nothing.
  r.enter(1);
  EXPECT_EQ(p.load()->value, 2);
  EXPECT_EQ(p.reclaim(r), 1u);
  r.leave(0);
  EXPECT_EQ(p.reclaim(r), 0u);
  EXPECT_EQ(freed, 1);
  r.leave(1);
}

TEST(Publish, AWorkerThatPassedABatchBoundaryReleasesOlderTables) {
  int freed = 0;
  Reclaimer r(1);
  Published<Table> p(table(1, freed));
  r.enter(0);
  p.publish(table(2, freed), r);
  p.publish(table(3, freed), r);
  EXPECT_EQ(p.reclaim(r), 2u);
  r.leave(0);
  r.enter(0);  // a new batch: it can only see table 3
  EXPECT_EQ(p.load()->value, 3);
  p.publish(table(4, freed), r);
  EXPECT_EQ(p.reclaim(r), 1u);  // 1 and 2 freed, 3 held by the batch
  EXPECT_EQ(freed, 2);
  r.leave(0);
  EXPECT_EQ(p.reclaim(r), 0u);
  EXPECT_EQ(freed, 3);
}

TEST(Publish, TheDestructorFreesEverything) {
  int freed = 0;
  {
    Reclaimer r(1);
    Published<Table> p(table(1, freed));
    r.enter(0);
    p.publish(table(2, freed), r);
    r.leave(0);
  }
  EXPECT_EQ(freed, 2);
}

}  // namespace
}  // namespace cordon
