// The event examples/flyer_event.cc extracts. The default model (models/README.md) was trained
// on this schema: text/synthetic_tasks.cc writes the same JSON Schema for its event task, and
// fm/synthetic_schema_test.cc checks that the two stay equal.
#pragma once

#include <optional>
#include <string>

#include "afm/generable.h"

struct calendar_event {
  std::string title;
  std::string date;  // ISO 8601
  std::optional<std::string> time;
  std::optional<std::string> location;
};

AFM_GENERABLE(
    calendar_event, "An event found on a flyer",
    AFM_FIELD(title, "The event's name", afm::guides::pattern("^.{1,40}$")),
    AFM_FIELD(date, "The day, as YYYY-MM-DD",
              afm::guides::pattern("^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$")),
    AFM_FIELD(time, "Start time, as HH:MM",
              afm::guides::pattern("^([01][0-9]|2[0-3]):[0-5][0-9]$")),
    AFM_FIELD(location, "Where it takes place", afm::guides::pattern("^.{1,60}$")));
