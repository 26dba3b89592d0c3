#!/usr/bin/env python3
"""Stable text dump of a GeoPackage (any SQLite file), for comparing two files by content.

    gpkg_dump.py FILE.gpkg > dump.txt

Prints the schema (every CREATE statement in sqlite_master, sorted) and then every table's rows in primary key
order, values in an exact form (reals with repr, blobs in hex). An R-tree is dumped through its virtual table
(id and box), not through its shadow tables, whose node layout depends on the order rows were inserted in (a
bulk-loaded tree and one grown by triggers hold the same boxes in different nodes). Free pages, page order and
everything else that does not change what a reader of the file sees are left out.

Surrogate keys of the style and metadata tables are renumbered in their order (layer_styles.id, gpkg_metadata.id
and the references to it in gpkg_metadata_reference, and layer_styles' AUTOINCREMENT counter): those tables are
rewritten whole by every command that styles or describes the file (`harmmap qgis` run twice on the same folder
gives new ids and nothing else new), so their ids say how many times that happened, not what the file holds.
"""
import sqlite3
import sys


def value(v):
    if v is None:
        return "NULL"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, bytes):
        return "x'" + v.hex() + "'"
    if isinstance(v, str):
        return "'" + v.replace("'", "''") + "'"
    return str(v)


def main(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True)
    out = sys.stdout
    rows = db.execute("SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY type, name").fetchall()
    rtrees = {name for (kind, name, _, sql) in rows
              if kind == "table" and sql and "VIRTUAL TABLE" in sql.upper() and "RTREE" in sql.upper()}
    shadow = {r + suffix for r in rtrees for suffix in ("_node", "_rowid", "_parent")}
    out.write("-- schema\n")
    for kind, name, table, sql in rows:
        if name in shadow:
            continue
        out.write("%s %s ON %s: %s\n" % (kind, name, table, " ".join((sql or "").split())))
    renumber = {}
    for table in ("gpkg_metadata", "layer_styles"):
        if any(kind == "table" and name == table for (kind, name, _, _) in rows):
            ids = [r[0] for r in db.execute('SELECT id FROM "%s" ORDER BY id' % table)]
            renumber[table] = {old: new for new, old in enumerate(ids, 1)}
    for kind, name, _, sql in rows:
        if kind != "table" or name in shadow:
            continue
        columns = [c[1] for c in db.execute('PRAGMA table_info("%s")' % name.replace('"', '""'))]
        if name in rtrees:
            order = "id"
        elif name == "sqlite_sequence":
            order = "name"
        else:
            order = "rowid"
        out.write("-- table %s (%s)\n" % (name, ", ".join(columns)))
        query = 'SELECT * FROM "%s" ORDER BY %s' % (name.replace('"', '""'), order)
        for row in db.execute(query):
            row = list(row)
            if name in renumber and "id" in columns:
                row[columns.index("id")] = renumber[name][row[columns.index("id")]]
            if name == "gpkg_metadata_reference" and "gpkg_metadata" in renumber:
                for column in ("md_file_id", "md_parent_id"):
                    i = columns.index(column)
                    if row[i] is not None:
                        row[i] = renumber["gpkg_metadata"].get(row[i], "dangling %s" % row[i])
            if name == "sqlite_sequence" and row[0] in renumber:
                row[1] = len(renumber[row[0]])
            out.write(" | ".join(value(v) for v in row) + "\n")
    db.close()


if __name__ == "__main__":
    if len(sys.argv) != 2:
        sys.stderr.write("usage: gpkg_dump.py FILE.gpkg\n")
        sys.exit(2)
    main(sys.argv[1])
