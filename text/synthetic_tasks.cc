// The synthetic tasks (include/afm/synthetic_tasks.h). Each task draws slots from small word
// lists and writes them into one of several templates; the answer is computed from the slots,
// never parsed back out of the text.
#include "afm/synthetic_tasks.h"

#include <array>
#include <cstdio>
#include <set>

#include "afm/error.h"

namespace afm {
namespace {

using nlohmann::ordered_json;

template <typename T, size_t N>
const T& pick(const std::array<T, N>& a, rng& g) {
  return a[g.next() % N];
}
int uniform(rng& g, int lo, int hi) {  // inclusive
  return lo + static_cast<int>(g.next() % static_cast<uint64_t>(hi - lo + 1));
}

constexpr std::array<const char*, 12> kMonths = {"January",   "February", "March",    "April",
                                                 "May",       "June",     "July",     "August",
                                                 "September", "October",  "November", "December"};
constexpr std::array<const char*, 7> kWeekdays = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                                  "Thursday", "Friday", "Saturday"};

struct date {
  int year, month, day;  // month 1-12
};
struct clock_time {
  int hour, minute;
};

date random_date(rng& g) {
  return {uniform(g, 2025, 2027), uniform(g, 1, 12), uniform(g, 1, 28)};
}
clock_time random_time(rng& g) {
  return {uniform(g, 7, 22), 15 * uniform(g, 0, 3)};
}

int weekday(const date& d) {  // Sakamoto's method; 0 = Sunday
  static constexpr int t[] = {0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4};
  const int y = d.year - (d.month < 3 ? 1 : 0);
  return (y + y / 4 - y / 100 + y / 400 + t[d.month - 1] + d.day) % 7;
}

std::string format(const char* fmt, auto... args) {
  char buf[160];
  std::snprintf(buf, sizeof buf, fmt, args...);
  return buf;
}
std::string iso(const date& d) {
  return format("%04d-%02d-%02d", d.year, d.month, d.day);
}
std::string iso(const clock_time& t) {
  return format("%02d:%02d", t.hour, t.minute);
}
std::string ordinal(int n) {
  const char* s = (n % 10 == 1 && n != 11)   ? "st"
                  : (n % 10 == 2 && n != 12) ? "nd"
                  : (n % 10 == 3 && n != 13) ? "rd"
                                             : "th";
  return std::to_string(n) + s;
}

// The ways a flyer or a request writes a day and a time.
std::string spoken(const date& d, rng& g) {
  const char* m = kMonths[static_cast<size_t>(d.month - 1)];
  switch (g.next() % 5) {
    case 0:
      return format("%s %d, %d", m, d.day, d.year);
    case 1:
      return format("%d %s %d", d.day, m, d.year);
    case 2:
      return format("%s %s %d", m, ordinal(d.day).c_str(), d.year);
    case 3:
      return format("%s, %s %s %d", kWeekdays[static_cast<size_t>(weekday(d))], m,
                    ordinal(d.day).c_str(), d.year);
    default:
      return iso(d);
  }
}
std::string spoken(const clock_time& t, rng& g) {
  const int h12 = t.hour % 12 == 0 ? 12 : t.hour % 12;
  const char* ampm = t.hour < 12 ? "am" : "pm";
  switch (g.next() % 4) {
    case 0:
      return format("%d:%02d %s", h12, t.minute, ampm);
    case 1:
      return format("%d:%02d %s", h12, t.minute, t.hour < 12 ? "AM" : "PM");
    case 2:
      return iso(t);
    default:
      return t.minute == 0 ? format("%d%s", h12, ampm) : format("%d:%02d%s", h12, t.minute, ampm);
  }
}

ordered_json string_field(const char* description) {
  return {{"type", "string"}, {"description", description}};
}

// The schema generation_schema::of<calendar_event>() writes for examples/flyer_event.cc's
// struct (fm/synthetic_tasks_test.cc checks they stay equal).
const std::string& event_schema() {
  static const std::string s =
      R"({"$defs":{"calendar_event":{"type":"object","properties":{"title":{"type":"string","description":"The event's name","pattern":"^.{1,40}$"},"date":{"type":"string","description":"The day, as YYYY-MM-DD","pattern":"^20[0-9]{2}-(0[1-9]|1[0-2])-(0[1-9]|[12][0-9]|3[01])$"},"time":{"type":"string","description":"Start time, as HH:MM","pattern":"^([01][0-9]|2[0-3]):[0-5][0-9]$"},"location":{"type":"string","description":"Where it takes place","pattern":"^.{1,60}$"}},"required":["title","date"],"additionalProperties":false,"description":"An event found on a flyer"}},"$ref":"#/$defs/calendar_event"})";
  return s;
}

task_example event_extraction(rng& g) {
  static constexpr std::array<const char*, 12> kA = {
      "Summer", "Spring",  "Autumn",  "Winter", "Community", "Annual",
      "Family", "Charity", "Student", "Open",   "Late",      "Neighbourhood"};
  static constexpr std::array<const char*, 15> kB = {
      "Jazz",   "Book",     "Art",    "Film",  "Food",  "Craft",  "Science",    "Chess",
      "Poetry", "Robotics", "Garden", "Music", "Dance", "Coding", "Photography"};
  static constexpr std::array<const char*, 12> kC = {"Night",  "Fair",    "Festival", "Workshop",
                                                     "Meetup", "Market",  "Club",     "Show",
                                                     "Party",  "Evening", "Day",      "Exhibition"};
  static constexpr std::array<const char*, 12> kVenues = {
      "Riverside Bandstand",    "the Town Hall",
      "Central Library",        "Oak Street Community Centre",
      "the Old Mill",           "Harbour View Park",
      "St. Mary's Church Hall", "the Blue Room",
      "Westside Gym",           "Maple Cafe",
      "the Student Union",      "Greenfield School"};
  static constexpr std::array<const char*, 7> kExtras = {
      "Free entry, bring a blanket.", "Tickets $5 at the door.", "All ages welcome.",
      "Refreshments provided.",       "RSVP by email.",          "Bring a friend!",
      "Everyone is welcome."};
  const std::string title = format("%s %s %s", pick(kA, g), pick(kB, g), pick(kC, g));
  const std::string where = pick(kVenues, g);
  const date d = random_date(g);
  const clock_time t = random_time(g);
  const std::string ds = spoken(d, g), ts = spoken(t, g), extra = pick(kExtras, g);
  std::string flyer;
  switch (g.next() % 4) {
    case 0:
      flyer = title + "! " + ds + ", " + ts + " at " + where + ". " + extra;
      break;
    case 1:
      flyer = title + "\nWhen: " + ds + " at " + ts + "\nWhere: " + where + "\n" + extra;
      break;
    case 2:
      flyer = "Join us for the " + title + " at " + where + " on " + ds + ". Doors open at " + ts +
              ". " + extra;
      break;
    default:
      flyer = where + " presents: " + title + " - " + ds + ", starting " + ts + ". " + extra;
      break;
  }
  task_example e;
  e.task = synthetic_task::event_extraction;
  e.instructions = "Extract the event from the flyer the user gives you.";
  e.prompt = flyer;
  e.schema = event_schema();
  e.answer = {{"title", title}, {"date", iso(d)}, {"time", iso(t)}, {"location", where}};
  return e;
}

task_example arithmetic(rng& g) {
  static constexpr std::array<const char*, 10> kNames = {"Maya", "Tom",  "Aisha", "Leo",   "Sara",
                                                         "Ben",  "Nina", "Omar",  "Grace", "Ivan"};
  static constexpr std::array<const char*, 10> kItems = {"apples",  "stickers", "marbles", "books",
                                                         "pencils", "cookies",  "cards",   "shells",
                                                         "stamps",  "coins"};
  const std::string name = pick(kNames, g), other = pick(kNames, g), item = pick(kItems, g);
  int a = 0, b = 0, c = 0, value = 0;
  std::string problem, equation;
  switch (g.next() % 5) {
    case 0:
      a = uniform(g, 2, 50), b = uniform(g, 2, 50), value = a + b;
      problem = format("%s has %d %s. Then %s gets %d more. How many %s does %s have now?",
                       name.c_str(), a, item.c_str(), name.c_str(), b, item.c_str(), name.c_str());
      equation = format("%d + %d", a, b);
      break;
    case 1:
      a = uniform(g, 10, 60), b = uniform(g, 1, a - 1), value = a - b;
      problem = format("%s had %d %s and gave %d of them to %s. How many %s are left?",
                       name.c_str(), a, item.c_str(), b, other.c_str(), item.c_str());
      equation = format("%d - %d", a, b);
      break;
    case 2:
      a = uniform(g, 2, 12), b = uniform(g, 2, 12), value = a * b;
      problem = format("There are %d boxes with %d %s in each box. How many %s are there in total?",
                       a, b, item.c_str(), item.c_str());
      equation = format("%d * %d", a, b);
      break;
    case 3:
      a = uniform(g, 5, 40), b = uniform(g, 2, 30), c = uniform(g, 1, a + b - 1), value = a + b - c;
      problem =
          format("%s has %d %s, buys %d more and then gives %d away. How many %s does %s have?",
                 name.c_str(), a, item.c_str(), b, c, item.c_str(), name.c_str());
      equation = format("%d + %d - %d", a, b, c);
      break;
    default:
      b = uniform(g, 2, 9), value = uniform(g, 2, 12), a = b * value;
      problem =
          format("%d %s are shared equally among %d friends. How many %s does each friend get?", a,
                 item.c_str(), b, item.c_str());
      equation = format("%d / %d", a, b);
      break;
  }
  task_example e;
  e.task = synthetic_task::arithmetic;
  e.instructions = "Solve the word problem. Write the equation, then its value.";
  e.prompt = problem;
  e.schema =
      R"({"type":"object","properties":{"equation":{"type":"string","description":"The arithmetic, such as 3 + 4"},"answer":{"type":"integer","description":"The value of the equation"}},"required":["equation","answer"],"additionalProperties":false})";
  e.answer = {{"equation", equation}, {"answer", value}};
  return e;
}

task_example tool_call(rng& g) {
  static constexpr std::array<const char*, 14> kCities = {
      "Paris", "London", "Tokyo",  "Berlin",  "Madrid", "Rome",  "Oslo",
      "Cairo", "Lima",   "Sydney", "Toronto", "Dublin", "Seoul", "Nairobi"};
  static constexpr std::array<const char*, 5> kForecasts = {"sunny", "cloudy", "rainy", "windy",
                                                            "snowy"};
  static constexpr std::array<const char*, 10> kEvents = {
      "lunch with Sam", "dentist appointment", "team meeting", "call with Mum",    "yoga class",
      "piano lesson",   "book club",           "haircut",      "dinner with Alex", "gym session"};
  task_example e;
  e.task = synthetic_task::tool_call;
  e.instructions = "You are a helpful assistant. Use a tool when the request needs one.";
  e.tools = synthetic_tool_definitions().dump();
  ordered_json call;
  if (g.next() % 2 == 0) {
    const std::string city = pick(kCities, g), forecast = pick(kForecasts, g);
    const int temp = uniform(g, -5, 32);
    switch (g.next() % 4) {
      case 0:
        e.prompt = "What's the weather like in " + city + "?";
        break;
      case 1:
        e.prompt = "Will I need an umbrella in " + city + " today?";
        break;
      case 2:
        e.prompt = "Is it cold in " + city + " right now?";
        break;
      default:
        e.prompt = "Check the forecast for " + city + ", please.";
        break;
    }
    call = {{"name", "weather"}, {"arguments", {{"city", city}}}};
    e.tool_output =
        ordered_json{{"city", city}, {"forecast", forecast}, {"temperature_c", temp}}.dump();
    e.final_response =
        format("It is %s in %s, %d degrees Celsius.", forecast.c_str(), city.c_str(), temp);
  } else {
    const std::string what = pick(kEvents, g);
    const date d = random_date(g);
    const clock_time t = random_time(g);
    const std::string ds = spoken(d, g), ts = spoken(t, g);
    switch (g.next() % 3) {
      case 0:
        e.prompt = "Add " + what + " on " + ds + " at " + ts + " to my calendar.";
        break;
      case 1:
        e.prompt = "Schedule " + what + " for " + ds + ", " + ts + ".";
        break;
      default:
        e.prompt = "Please put " + what + " in my calendar: " + ds + " at " + ts + ".";
        break;
    }
    call = {{"name", "calendar"},
            {"arguments", {{"title", what}, {"date", iso(d)}, {"time", iso(t)}}}};
    e.tool_output = ordered_json{{"status", "created"}, {"id", uniform(g, 100, 999)}}.dump();
    e.final_response =
        "Done: " + what + " is in your calendar for " + iso(d) + " at " + iso(t) + ".";
  }
  e.answer = {{"tool_calls", ordered_json::array({call})}};
  return e;
}

task_example summary(rng& g) {
  static constexpr std::array<const char*, 10> kTowns = {
      "Millbrook", "Ashford", "Lakeside",   "Stonebridge", "Fairview",
      "Elmwood",   "Redhill", "Clearwater", "Northgate",   "Westbury"};
  static constexpr std::array<const char*, 6> kFestivals = {"harvest festival", "music festival",
                                                            "food fair",        "flower show",
                                                            "book fair",        "street market"};
  static constexpr std::array<const char*, 6> kCauses = {
      "a new library",      "the local school", "a children's hospital",
      "the animal shelter", "a new playground", "the food bank"};
  static constexpr std::array<const char*, 6> kProducts = {"bicycle lock",   "water bottle",
                                                           "desk lamp",      "backpack",
                                                           "coffee grinder", "smart thermostat"};
  static constexpr std::array<const char*, 6> kPurposes = {
      "save energy",        "last for ten years",  "fold into a pocket",
      "charge in one hour", "stay quiet at night", "keep drinks cold"};
  static constexpr std::array<const char*, 6> kFindings = {
      "bees prefer blue flowers", "walking improves sleep", "older trees store more water",
      "city birds sing louder",   "cold water slows rust",  "music helps plants grow"};
  static constexpr std::array<const char*, 6> kSubjects = {"garden insects", "sleep patterns",
                                                           "forest soils",   "urban wildlife",
                                                           "metal bridges",  "greenhouse crops"};
  static constexpr std::array<const char*, 4> kStorms = {"snow", "rain", "wind", "hail"};
  static constexpr std::array<const char*, 10> kCompanies = {
      "Brightline", "Northwind", "Acorn Labs", "Bluepeak", "Copperleaf",
      "Silverfox",  "Greenway",  "Ironbark",   "Sunhill",  "Tidewater"};
  const std::string town = pick(kTowns, g);
  const std::string day = kWeekdays[g.next() % 7], day2 = kWeekdays[g.next() % 7];
  std::string text, sentence;
  switch (g.next() % 4) {
    case 0: {
      const std::string fest = pick(kFestivals, g), cause = pick(kCauses, g);
      const int n = 100 * uniform(g, 5, 90);
      text = format("The town of %s held its annual %s on %s. ", town.c_str(), fest.c_str(),
                    day.c_str()) +
             format("More than %d visitors came to enjoy the day. ", n) +
             "The mayor said the event raised money for " + cause +
             ". Organisers plan to hold it again next year.";
      sentence = format("%s's %s drew more than %d visitors and raised money for %s.", town.c_str(),
                        fest.c_str(), n, cause.c_str());
      break;
    }
    case 1: {
      const std::string co = pick(kCompanies, g), prod = pick(kProducts, g),
                        why = pick(kPurposes, g);
      const std::string month = kMonths[g.next() % 12];
      const int price = uniform(g, 10, 200);
      text = co + ", a small company based in " + town + ", announced a new " + prod + " on " +
             day + ". The " + prod + " is designed to " + why + ". " +
             format("It will go on sale in %s for %d dollars. ", month.c_str(), price) +
             "The company expects strong demand.";
      sentence = format("%s announced a new %s designed to %s, on sale in %s for %d dollars.",
                        co.c_str(), prod.c_str(), why.c_str(), month.c_str(), price);
      break;
    }
    case 2: {
      const std::string subj = pick(kSubjects, g), found = pick(kFindings, g);
      const int years = uniform(g, 2, 15);
      text = "Researchers at the University of " + town + " studied " + subj +
             format(" for %d years. ", years) + "They found that " + found +
             ". The team hopes the results will help farmers and city planners. The study was "
             "published this week.";
      sentence = format("Researchers in %s studied %s for %d years and found that %s.",
                        town.c_str(), subj.c_str(), years, found.c_str());
      break;
    }
    default: {
      const std::string storm = pick(kStorms, g);
      const int homes = 10 * uniform(g, 3, 400);
      text = "Heavy " + storm + " hit " + town + " on " + day +
             format(". Several roads were closed and %d homes lost power. ", homes) +
             "Crews worked through the night to repair the damage. Officials expect everything to "
             "be back to normal by " +
             day2 + ".";
      sentence = format("Heavy %s in %s closed roads and cut power to %d homes until %s.",
                        storm.c_str(), town.c_str(), homes, day2.c_str());
      break;
    }
  }
  task_example e;
  e.task = synthetic_task::summary;
  e.instructions = "Summarise the paragraph in one sentence.";
  e.prompt = text;
  e.schema =
      R"({"type":"object","properties":{"summary":{"type":"string","description":"One sentence"}},"required":["summary"],"additionalProperties":false})";
  e.answer = {{"summary", sentence}};
  return e;
}

}  // namespace

const std::vector<synthetic_task>& all_synthetic_tasks() {
  static const std::vector<synthetic_task> all = {
      synthetic_task::event_extraction, synthetic_task::arithmetic, synthetic_task::tool_call,
      synthetic_task::summary};
  return all;
}

const char* to_string(synthetic_task t) {
  switch (t) {
    case synthetic_task::event_extraction:
      return "event";
    case synthetic_task::arithmetic:
      return "arithmetic";
    case synthetic_task::tool_call:
      return "tool";
    case synthetic_task::summary:
      return "summary";
  }
  return "?";
}

synthetic_task synthetic_task_from_string(const std::string& name) {
  for (synthetic_task t : all_synthetic_tasks())
    if (name == to_string(t)) return t;
  fail("unknown synthetic task '", name, "' (known: event, arithmetic, tool, summary)");
}

nlohmann::ordered_json synthetic_tool_definitions() {
  auto object = [](ordered_json props, ordered_json required) {
    return ordered_json{{"type", "object"},
                        {"properties", std::move(props)},
                        {"required", std::move(required)},
                        {"additionalProperties", false}};
  };
  return ordered_json::array(
      {{{"name", "weather"},
        {"description", "Current weather for a city"},
        {"parameters", object({{"city", string_field("The city's name")}}, {"city"})}},
       {{"name", "calendar"},
        {"description", "Adds an event to the user's calendar"},
        {"parameters", object({{"title", string_field("What the event is")},
                               {"date", string_field("The day, as YYYY-MM-DD")},
                               {"time", string_field("Start time, as HH:MM")}},
                              {"title", "date", "time"})}}});
}

task_example make_task_example(synthetic_task t, rng& g) {
  switch (t) {
    case synthetic_task::event_extraction:
      return event_extraction(g);
    case synthetic_task::arithmetic:
      return arithmetic(g);
    case synthetic_task::tool_call:
      return tool_call(g);
    case synthetic_task::summary:
      return summary(g);
  }
  fail("unknown synthetic task");
}

std::vector<std::vector<chat_entry>> task_example::training_transcripts() const {
  std::vector<chat_entry> base{{chat_role::instructions, instructions, {}}};
  if (task != synthetic_task::tool_call) {
    base.push_back({chat_role::user, prompt, {}});
    base.push_back({chat_role::response_schema, schema, {}});
    base.push_back({chat_role::response, answer.dump(), {}});
    return {base};
  }
  base.push_back({chat_role::tool_definitions, tools, {}});
  base.push_back({chat_role::user, prompt, {}});
  std::vector<chat_entry> decision = base, final_answer = base;
  decision.push_back({chat_role::response, answer.dump(), {}});
  const ordered_json& call = answer["tool_calls"][0];
  final_answer.push_back({chat_role::tool_call, call.dump(), {}});
  final_answer.push_back({chat_role::tool_output, tool_output, call["name"].get<std::string>()});
  final_answer.push_back({chat_role::response, final_response, {}});
  return {decision, final_answer};
}

std::vector<task_example> heldout_task_examples(synthetic_task t, size_t n, uint64_t seed,
                                                uint64_t exclude_seed, size_t exclude_per_task,
                                                size_t* skipped) {
  std::set<std::string> seen;  // training prompts
  rng train(exclude_seed);
  for (size_t i = 0; i < exclude_per_task; ++i)
    for (synthetic_task task : all_synthetic_tasks())
      seen.insert(make_task_example(task, train).prompt);
  rng g(seed + static_cast<uint64_t>(t));
  std::vector<task_example> out;
  if (skipped) *skipped = 0;
  while (out.size() < n) {
    task_example e = make_task_example(t, g);
    if (seen.count(e.prompt)) {
      if (skipped) ++*skipped;
      continue;
    }
    out.push_back(std::move(e));
  }
  return out;
}

}  // namespace afm
