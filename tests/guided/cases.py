"""The guided-generation test schemas: each case is (name, schema, valid instances, invalid
instances). `python3 cases.py --write DIR` writes DIR/schemas/NNN_name.json (the schema alone,
what `afm schema bench` reads) and DIR/instances/NNN_name.json ({"valid": [...], "invalid":
[...]}). test_guided.py checks the committed files match this list.

Valid instances are written compactly with keys in schema order, as the grammar generates
them; invalid ones must be invalid under the schema (the test asks python3-jsonschema).
"""
import json
import os
import sys

S = {"type": "string"}
I = {"type": "integer"}
N = {"type": "number"}
B = {"type": "boolean"}


def obj(props, required=None, **kw):
    d = {"type": "object", "properties": props}
    if required is not None:
        d["required"] = required
    d.update(kw)
    return d


def arr(items, **kw):
    d = {"type": "array", "items": items}
    d.update(kw)
    return d


CASES = [
    # --- scalars and type --------------------------------------------------------------
    ("string", S, ["", "hello", "é\n\"q\"", "\u2028"], [1, None]),
    ("integer", I, [0, -7, 123456789], [1.5, "1", True]),
    ("number", N, [0, -1.25, 3e10, 12], ["x", None]),
    ("boolean", B, [True, False], [0, "true"]),
    ("null", {"type": "null"}, [None], [0, False]),
    ("type_array", {"type": ["string", "null"]}, ["a", None], [1]),
    ("type_array3", {"type": ["integer", "boolean", "null"]}, [3, True, None], ["x", 1.5]),
    ("type_number_integer", {"type": ["number", "integer"]}, [1, 2.5], ["1"]),
    ("true_schema", True, [1, "x", None, [1, {"a": 2}], {"k": [True]}], []),
    ("empty_schema", {}, [{"a": [1, 2]}, "s", 3.5], []),
    ("description_only", {"description": "anything", "title": "T"}, [[], {}], []),
    # --- integers and numbers with bounds ----------------------------------------------
    ("int_min", {"type": "integer", "minimum": 10}, [10, 11, 999999], [9, -10]),
    ("int_max", {"type": "integer", "maximum": -3}, [-3, -1000], [-2, 0, 5]),
    ("int_range", {"type": "integer", "minimum": -25, "maximum": 130}, [-25, 0, 99, 130], [-26, 131]),
    ("int_exclusive", {"type": "integer", "exclusiveMinimum": 0, "exclusiveMaximum": 100}, [1, 99], [0, 100]),
    ("int_big_range", {"type": "integer", "minimum": 1000, "maximum": 987654}, [1000, 987654, 55555], [999, 987655]),
    ("int_fraction_bounds", {"type": "integer", "minimum": 2.5, "maximum": 7.5}, [3, 7], [2, 8]),
    ("int_single", {"type": "integer", "minimum": 42, "maximum": 42}, [42], [41, 43]),
    ("num_min", {"type": "number", "minimum": 0.5}, [0.5, 0.51, 1, 100.25], [0.49, -1]),
    ("num_range", {"type": "number", "minimum": -2.75, "maximum": 3.5}, [-2.75, 0, 3.5, 1.125], [-2.76, 3.51]),
    ("num_exclusive", {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1}, [0.5, 0.001, 0.999], [0, 1]),
    ("num_negative", {"type": "number", "maximum": -0.25}, [-0.25, -3, -0.3], [-0.2, 0]),
    ("num_percent", {"type": "number", "minimum": 0, "maximum": 100}, [0, 100, 99.99, 12.5], [100.01, -0.01]),
    ("num_exclusive_max_only", {"type": "number", "exclusiveMaximum": 10}, [9.99, -5, 0], [10, 11]),
    # --- strings -------------------------------------------------------------------------
    ("str_min", {"type": "string", "minLength": 3}, ["abc", "abcdef", "日本語"], ["ab", ""]),
    ("str_max", {"type": "string", "maxLength": 4}, ["", "abcd", "ééé"], ["abcde"]),
    ("str_len_range", {"type": "string", "minLength": 2, "maxLength": 5}, ["ab", "abcde"], ["a", "abcdef"]),
    ("str_exact_len", {"type": "string", "minLength": 3, "maxLength": 3}, ["abc", "a\nb"], ["ab", "abcd"]),
    ("pattern_anchored", {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{4}$"}, ["ABC-1234"], ["AB-1234", "ABC-12345"]),
    ("pattern_unanchored", {"type": "string", "pattern": "foo"}, ["foo", "xfooy"], ["fo", "bar"]),
    ("pattern_alternation", {"type": "string", "pattern": "^(cat|dog|bird)s?$"}, ["cat", "dogs"], ["cow", "cats!"]),
    ("pattern_classes", {"type": "string", "pattern": "^\\w+@\\w+\\.com$"}, ["a_b@x1.com"], ["a@b.org"]),
    ("pattern_escapes", {"type": "string", "pattern": "^\"[^\"]*\"$"}, ['"quoted"', '""'], ["noquote"]),
    ("pattern_unicode", {"type": "string", "pattern": "^[\u00e0-\u00ff]+$"}, ["\u00e9\u00e8"], ["e"]),
    ("pattern_optional_parts", {"type": "string", "pattern": "^\\+?\\d{1,3}( \\d{3}){2}$"}, ["+1 555 123", "44 123 456"], ["1 55 123"]),
    ("pattern_dot", {"type": "string", "pattern": "^a.c$"}, ["abc", "a\u00e9c"], ["a\nc", "ac"]),
    ("format_date", {"type": "string", "format": "date"}, ["2024-02-29", "1999-12-31"], ["2023-02-29", "2024-13-01"]),
    ("format_time", {"type": "string", "format": "time"}, ["13:45:00Z", "23:59:59.5+02:00"], ["24:00:00Z", "12:00"]),
    ("format_date_time", {"type": "string", "format": "date-time"}, ["2024-05-01T13:45:00Z"], ["2024-05-01 13:45"]),
    ("format_email", {"type": "string", "format": "email"}, ["ann.lee@example.com"], ["not-an-email"]),
    ("format_uuid", {"type": "string", "format": "uuid"}, ["123e4567-e89b-12d3-a456-426614174000"], ["123e4567"]),
    ("format_uri", {"type": "string", "format": "uri"}, ["https://example.com/a/b?x=1"], ["no scheme"]),
    # --- enum and const ---------------------------------------------------------------
    ("enum_strings", {"enum": ["red", "green", "blue"]}, ["red", "blue"], ["yellow", 1]),
    ("enum_typed", {"type": "string", "enum": ["a", "b", 3]}, ["a", "b"], [3, "c"]),
    ("enum_mixed", {"enum": [1, "one", None, True, [1, 2], {"k": "v"}]}, [1, "one", None, True, [1, 2], {"k": "v"}], [2, False]),
    ("enum_escaped", {"enum": ["say \"hi\"", "tab\there", "back\\slash", "caf\u00e9"]}, ["say \"hi\"", "caf\u00e9"], ["say hi"]),
    ("const_string", {"const": "fixed"}, ["fixed"], ["other"]),
    ("const_number", {"const": 3.5}, [3.5], [3]),
    ("const_object", {"const": {"a": [1, {"b": None}]}}, [{"a": [1, {"b": None}]}], [{"a": []}]),
    ("enum_numbers", {"type": "integer", "enum": [1, 2, 3, 5, 8, 13]}, [1, 13], [4]),
    # --- objects -------------------------------------------------------------------------
    ("obj_simple", obj({"name": S, "age": I}, ["name", "age"]), [{"name": "Ann", "age": 30}], [{"name": "Ann"}, {"name": 1, "age": 1}]),
    ("obj_optional", obj({"a": S, "b": I, "c": B}), [{}, {"a": "x"}, {"b": 1, "c": True}, {"a": "", "b": 2, "c": False}], [{"a": 1}]),
    ("obj_required_last", obj({"a": I, "b": I, "c": I}, ["c"]), [{"c": 1}, {"a": 1, "c": 3}], [{"a": 1}, {}]),
    ("obj_required_middle", obj({"a": I, "b": I, "c": I}, ["b"]), [{"b": 1}, {"a": 1, "b": 2, "c": 3}, {"b": 2, "c": 3}], [{"a": 1, "c": 2}]),
    ("obj_empty_props", {"type": "object"}, [{}], [[], "x"]),
    ("obj_additional_true", obj({"id": I}, ["id"], additionalProperties=True), [{"id": 1}, {"id": 1, "x": [1], "y": {"z": None}}], [{"x": 1}]),
    ("obj_additional_schema", obj({"id": I}, additionalProperties={"type": "string"}), [{"id": 1, "k": "v"}, {"other": "x"}], [{"k": 1}]),
    ("obj_only_additional", {"type": "object", "additionalProperties": {"type": "integer"}}, [{}, {"a": 1, "b": 2}], [{"a": "x"}]),
    ("obj_unicode_keys", obj({"caf\u00e9": S, "na\u00efve": I}, ["caf\u00e9"]), [{"caf\u00e9": "x", "na\u00efve": 2}], [{"na\u00efve": 2}]),
    ("obj_escaped_keys", obj({"a\"b": I, "c\\d": I, "e/f": I}, ["a\"b"]), [{"a\"b": 1, "e/f": 3}], [{"c\\d": 1}]),
    ("obj_nested", obj({"user": obj({"name": S, "email": {"type": "string", "format": "email"}}, ["name"]), "active": B}, ["user"]),
     [{"user": {"name": "x"}}, {"user": {"name": "x", "email": "a@b.co"}, "active": True}], [{"user": {}}]),
    ("obj_deep", obj({"a": obj({"b": obj({"c": obj({"d": I}, ["d"])}, ["c"])}, ["b"])}, ["a"]), [{"a": {"b": {"c": {"d": 1}}}}], [{"a": {"b": {"c": {}}}}]),
    ("obj_many_optional", obj({k: I for k in "abcdefghij"}), [{}, {"a": 1, "j": 2}, {"c": 1, "d": 2, "h": 3}], [{"a": "1"}]),
    ("obj_mixed_types", obj({"s": S, "n": N, "i": I, "b": B, "z": {"type": "null"}, "l": arr(I)}, ["s", "n", "i", "b", "z", "l"]),
     [{"s": "", "n": 1.5, "i": 2, "b": False, "z": None, "l": []}], [{"s": "", "n": 1.5, "i": 2, "b": False, "z": None}]),
    ("obj_false_property", obj({"a": I, "b": False}, additionalProperties=True), [{"a": 1}, {"a": 1, "c": 2}], [{"b": 1}]),
    ("obj_inferred_type", {"properties": {"x": I}, "required": ["x"]}, [{"x": 1}], [{}]),
    ("event", obj({"title": S, "date": {"type": "string", "format": "date"}, "time": {"type": "string", "format": "time"},
                   "location": S}, ["title", "date"]),
     [{"title": "Lunch", "date": "2025-06-01"}, {"title": "x", "date": "2025-06-01", "time": "12:30:00Z", "location": "Park"}], [{"title": "x", "date": "June"}]),
    ("weather_call", obj({"name": {"const": "get_weather"}, "arguments": obj({"city": S, "unit": {"enum": ["celsius", "fahrenheit"]}}, ["city"])}, ["name", "arguments"]),
     [{"name": "get_weather", "arguments": {"city": "Oslo", "unit": "celsius"}}], [{"name": "x", "arguments": {"city": "Oslo"}}]),
    # --- arrays --------------------------------------------------------------------------
    ("arr_int", arr(I), [[], [1, 2, 3]], [[1, "2"], {}]),
    ("arr_min", arr(S, minItems=2), [["a", "b"], ["a", "b", "c"]], [["a"], []]),
    ("arr_max", arr(I, maxItems=2), [[], [1, 2]], [[1, 2, 3]]),
    ("arr_exact", arr(B, minItems=3, maxItems=3), [[True, False, True]], [[True, False]]),
    ("arr_range", arr(N, minItems=1, maxItems=4), [[1], [1, 2.5, 3, 4]], [[], [1, 2, 3, 4, 5]]),
    ("arr_untyped", {"type": "array"}, [[], [1, "a", None, {"x": [2]}]], [{}]),
    ("arr_any_items", arr(True), [[1, "x"]], ["x"]),
    ("arr_no_items", arr(False), [[]], [[1]]),
    ("tuple", {"type": "array", "prefixItems": [S, I, B]}, [["a", 1, True], ["a"], [], ["a", 2]], [[1], ["a", "b"]]),
    ("tuple_min", {"type": "array", "prefixItems": [S, I], "minItems": 2}, [["a", 1]], [["a"]]),
    ("tuple_items", {"type": "array", "prefixItems": [S], "items": I}, [["a"], ["a", 1, 2]], [["a", "b"]]),
    ("tuple_items_bounded", {"type": "array", "prefixItems": [S, S], "items": I, "minItems": 3, "maxItems": 4}, [["a", "b", 1], ["a", "b", 1, 2]], [["a", "b"], ["a", "b", 1, 2, 3]]),
    ("tuple_max", {"type": "array", "prefixItems": [I, I, I], "maxItems": 2}, [[1, 2], []], [[1, 2, 3]]),
    ("arr_of_obj", arr(obj({"id": I, "tags": arr(S, maxItems=3)}, ["id"])), [[{"id": 1}, {"id": 2, "tags": ["a"]}]], [[{"tags": []}]]),
    ("arr_of_arr", arr(arr(I, minItems=1), maxItems=3), [[[1], [2, 3]], []], [[[]]]),
    ("arr_enum_items", arr({"enum": ["x", "y"]}, minItems=1), [["x", "y", "x"]], [["z"]]),
    ("matrix", arr(arr(N, minItems=2, maxItems=2), minItems=2, maxItems=2), [[[1, 2], [3, 4.5]]], [[[1, 2]]]),
    # --- anyOf / oneOf / allOf ----------------------------------------------------------
    ("anyof_scalars", {"anyOf": [S, I]}, ["x", 3], [None, 1.5]),
    ("anyof_objects", {"anyOf": [obj({"a": I}, ["a"]), obj({"b": S}, ["b"])]}, [{"a": 1}, {"b": "x"}], [{"c": 1}]),
    ("anyof_nullable", {"anyOf": [obj({"x": I}, ["x"]), {"type": "null"}]}, [None, {"x": 1}], [1]),
    ("anyof_with_siblings", {"type": "object", "properties": {"k": I}, "anyOf": [{"required": ["k"]}, {"properties": {"j": B}, "required": ["j"]}]},
     [{"k": 1}, {"k": 1, "j": True}, {"j": False}], [{}]),
    ("oneof_disjoint", {"oneOf": [{"type": "string"}, {"type": "array", "items": I}]}, ["x", [1]], [1]),
    ("oneof_tagged", {"oneOf": [obj({"kind": {"const": "circle"}, "r": N}, ["kind", "r"]), obj({"kind": {"const": "rect"}, "w": N, "h": N}, ["kind", "w", "h"])]},
     [{"kind": "circle", "r": 1}, {"kind": "rect", "w": 1, "h": 2}], [{"kind": "tri"}]),
    ("allof_merge", {"allOf": [obj({"a": I}, ["a"]), obj({"b": S}, ["b"])]}, [{"a": 1, "b": "x"}], [{"a": 1}]),
    ("allof_bounds", {"allOf": [{"type": "integer", "minimum": 0}, {"maximum": 10}, {"minimum": 5}]}, [5, 10], [4, 11]),
    ("allof_strings", {"allOf": [{"type": "string", "minLength": 2}, {"maxLength": 3}]}, ["ab", "abc"], ["a", "abcd"]),
    ("allof_ref", {"$defs": {"base": obj({"id": I}, ["id"])}, "allOf": [{"$ref": "#/$defs/base"}, {"properties": {"name": S}}]},
     [{"id": 1}, {"id": 1, "name": "x"}], [{"name": "x"}]),
    ("allof_types", {"allOf": [{"type": ["number", "string"]}, {"type": ["integer", "null"]}]}, [1, 7], ["x", 1.5]),
    # --- $ref and recursion ---------------------------------------------------------------
    ("ref_simple", {"$defs": {"name": {"type": "string", "minLength": 1}}, "type": "object", "properties": {"first": {"$ref": "#/$defs/name"}, "last": {"$ref": "#/$defs/name"}}, "required": ["first"]},
     [{"first": "a"}, {"first": "a", "last": "b"}], [{"first": ""}]),
    ("ref_definitions", {"definitions": {"p": {"type": "integer", "minimum": 0}}, "type": "array", "items": {"$ref": "#/definitions/p"}}, [[0, 5]], [[-1]]),
    ("ref_tree", {"$defs": {"node": obj({"value": I, "children": arr({"$ref": "#/$defs/node"})}, ["value"])}, "$ref": "#/$defs/node"},
     [{"value": 1}, {"value": 1, "children": [{"value": 2, "children": []}, {"value": 3}]}], [{"children": []}]),
    ("ref_linked_list", {"$defs": {"list": {"anyOf": [{"type": "null"}, obj({"head": I, "tail": {"$ref": "#/$defs/list"}}, ["head", "tail"])]}}, "$ref": "#/$defs/list"},
     [None, {"head": 1, "tail": None}, {"head": 1, "tail": {"head": 2, "tail": None}}], [{"head": 1}]),
    ("ref_root_recursion", obj({"name": S, "sub": {"$ref": "#"}}, ["name"]), [{"name": "a"}, {"name": "a", "sub": {"name": "b"}}], [{"sub": {"name": "b"}}]),
    ("ref_mutual", {"$defs": {"a": obj({"b": {"$ref": "#/$defs/b"}}), "b": obj({"a": {"$ref": "#/$defs/a"}, "n": I})}, "$ref": "#/$defs/a"},
     [{}, {"b": {"n": 1}}, {"b": {"a": {"b": {}}}}], [{"b": {"n": "x"}}]),
    ("ref_json_expr", {"$defs": {"expr": {"anyOf": [{"type": "number"}, obj({"op": {"enum": ["+", "*"]}, "args": arr({"$ref": "#/$defs/expr"}, minItems=2, maxItems=3)}, ["op", "args"])]}}, "$ref": "#/$defs/expr"},
     [1, {"op": "+", "args": [1, {"op": "*", "args": [2, 3]}]}], [{"op": "+", "args": [1]}]),
    ("ref_pointer_into_properties", {"type": "object", "properties": {"a": {"type": "integer", "minimum": 3}, "b": {"$ref": "#/properties/a"}}}, [{"a": 3, "b": 4}], [{"b": 1}]),
    ("ref_with_siblings", {"$defs": {"s": {"type": "string"}}, "$ref": "#/$defs/s", "maxLength": 2}, ["ab"], ["abc"]),
    ("ref_array_of_refs", {"$defs": {"pt": obj({"x": N, "y": N}, ["x", "y"])}, "type": "array", "items": {"$ref": "#/$defs/pt"}, "minItems": 1}, [[{"x": 1, "y": 2}]], [[]]),
    # --- mixtures --------------------------------------------------------------------------
    ("nullable_fields", obj({"a": {"type": ["string", "null"]}, "b": {"anyOf": [I, {"type": "null"}]}}, ["a", "b"]), [{"a": None, "b": 1}, {"a": "x", "b": None}], [{"a": 1, "b": 1}]),
    ("invoice", obj({"number": {"type": "string", "pattern": "^INV-\\d{5}$"}, "lines": arr(obj({"sku": S, "qty": {"type": "integer", "minimum": 1}, "price": {"type": "number", "minimum": 0}}, ["sku", "qty", "price"]), minItems=1),
                     "currency": {"enum": ["EUR", "USD"]}}, ["number", "lines", "currency"]),
     [{"number": "INV-00001", "lines": [{"sku": "a", "qty": 1, "price": 9.5}], "currency": "EUR"}], [{"number": "INV-1", "lines": [], "currency": "EUR"}]),
    ("config", obj({"version": {"const": 2}, "features": obj({}, additionalProperties=B), "limits": obj({"cpu": {"type": "number", "exclusiveMinimum": 0}, "mem": {"type": "integer", "minimum": 1}})}, ["version"]),
     [{"version": 2}, {"version": 2, "features": {"x": True}, "limits": {"cpu": 0.5}}], [{"version": 1}]),
    ("summary", obj({"summary": {"type": "string", "minLength": 1, "maxLength": 80}, "keywords": arr(S, maxItems=5)}, ["summary"]), [{"summary": "ok", "keywords": ["a"]}], [{"summary": ""}]),
    ("math_answer", obj({"reasoning": S, "answer": N}, ["reasoning", "answer"]), [{"reasoning": "2+2", "answer": 4}], [{"answer": 4}]),
    ("calendar_call", obj({"tool": {"const": "calendar.create"}, "args": obj({"title": S, "start": {"type": "string", "format": "date-time"}, "attendees": arr({"type": "string", "format": "email"})}, ["title", "start"])}, ["tool", "args"]),
     [{"tool": "calendar.create", "args": {"title": "x", "start": "2025-01-01T09:00:00Z"}}], [{"tool": "calendar.create", "args": {"title": "x"}}]),
    ("person_list", arr(obj({"first": S, "last": S, "age": {"type": "integer", "minimum": 0, "maximum": 150}, "id": {"type": "string", "format": "uuid"}}, ["first", "last"]), maxItems=4),
     [[{"first": "a", "last": "b", "age": 3}]], [[{"first": "a", "last": "b", "age": 200}]]),
    ("geo", obj({"lat": {"type": "number", "minimum": -90, "maximum": 90}, "lon": {"type": "number", "minimum": -180, "maximum": 180}}, ["lat", "lon"]),
     [{"lat": 59.91, "lon": 10.75}, {"lat": -90, "lon": 180}], [{"lat": 91, "lon": 0}]),
    ("rgb", {"type": "array", "prefixItems": [{"type": "integer", "minimum": 0, "maximum": 255}] * 3, "minItems": 3, "items": False}, [[0, 128, 255]], [[0, 256, 0], [1, 2]]),
    ("tagged_union_array", arr({"anyOf": [obj({"t": {"const": "text"}, "s": S}, ["t", "s"]), obj({"t": {"const": "num"}, "n": N}, ["t", "n"])]}),
     [[{"t": "text", "s": "x"}, {"t": "num", "n": 1}]], [[{"t": "num", "s": "x"}]]),
    ("deep_arrays", arr(arr(arr(I, maxItems=2), maxItems=2), maxItems=2), [[[[1, 2]], []]], [[[[1, 2, 3]]]]),
    ("bounded_everything", obj({"s": {"type": "string", "maxLength": 8}, "i": {"type": "integer", "minimum": -5, "maximum": 5}, "n": {"type": "number", "minimum": 0.25, "maximum": 0.75}, "a": arr(B, maxItems=2)}, ["s", "i", "n", "a"]),
     [{"s": "abc", "i": -5, "n": 0.5, "a": [True]}], [{"s": "abc", "i": 6, "n": 0.5, "a": []}]),
    ("enum_in_array_in_object", obj({"days": arr({"enum": ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]}, minItems=1, maxItems=7)}, ["days"]), [{"days": ["mon", "sun"]}], [{"days": []}]),
    ("key_value_map", {"type": "object", "additionalProperties": obj({"count": I}, ["count"])}, [{"a": {"count": 1}, "b": {"count": 2}}], [{"a": {}}]),
    ("string_or_list", {"anyOf": [{"type": "string", "maxLength": 10}, arr({"type": "string", "maxLength": 10}, maxItems=3)]}, ["x", ["a", "b"]], [["a", "b", "c", "d"]]),
    ("optional_nested_recursion", {"$defs": {"c": obj({"text": S, "replies": arr({"$ref": "#/$defs/c"}, maxItems=2)}, ["text"])}, "type": "object", "properties": {"thread": arr({"$ref": "#/$defs/c"}, maxItems=2)}},
     [{}, {"thread": [{"text": "a", "replies": [{"text": "b"}]}]}], [{"thread": [{"replies": []}]}]),
    ("dates_list", arr({"type": "string", "format": "date"}, minItems=1, maxItems=3), [["2024-01-01", "2024-12-31"]], [["2024-00-01"]]),
    ("uri_object", obj({"homepage": {"type": "string", "format": "uri"}, "repo": {"type": "string", "format": "uri"}}, ["homepage"]), [{"homepage": "http://a.org"}], [{"homepage": "a.org"}]),
    ("time_slots", arr(obj({"start": {"type": "string", "format": "time"}, "end": {"type": "string", "format": "time"}}, ["start", "end"]), maxItems=3),
     [[{"start": "09:00:00Z", "end": "10:00:00+01:00"}]], [[{"start": "9:00", "end": "10:00:00Z"}]]),
]


def write(outdir):
    for kind in ("schemas", "instances"):
        os.makedirs(os.path.join(outdir, kind), exist_ok=True)
    for i, (name, schema, valid, invalid) in enumerate(CASES):
        stem = "%03d_%s.json" % (i, name)
        with open(os.path.join(outdir, "schemas", stem), "w", encoding="utf-8") as f:
            json.dump(schema, f, ensure_ascii=False, indent=1)
            f.write("\n")
        with open(os.path.join(outdir, "instances", stem), "w", encoding="utf-8") as f:
            json.dump({"valid": valid, "invalid": invalid}, f, ensure_ascii=False, indent=1)
            f.write("\n")


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "--write":
        sys.exit("usage: cases.py --write DIR")
    write(sys.argv[2])
