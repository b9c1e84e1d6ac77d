"""The walk's counting, on a call tree worked by hand (bench/trainer_walk.py)."""

from __future__ import annotations

from bench.trainer_walk import Call, walk


def test_a_walk_counts_entries_re_entries_climbs_and_returns():
    # cli.main -> fit.run -> (recipe.key, loop.fit -> recipe.record, export.write); off-path: data.load
    record = Call("trainer/recipe.py", "record", on_path=True)
    loop = Call("trainer/loop.py", "fit", [record])
    run = Call("trainer/fit.py", "run", [Call("trainer/recipe.py", "key", on_path=True), loop,
                                         Call("trainer/data.py", "load"),
                                         Call("trainer/export.py", "write", on_path=True)])
    moves = walk(Call("trainer/cli.py", "main", [run]))
    # Makefile -> cli -> fit -> recipe (key), back to fit -> loop -> recipe again (record: a re-entry,
    # not a climb, as recipe is not on the stack then), back to loop, to fit -> export, back to fit,
    # to cli, to the Makefile: 6 returns.
    assert moves.files == ["Makefile", "trainer/cli.py", "trainer/fit.py", "trainer/recipe.py", "trainer/loop.py",
                           "trainer/export.py"]     # data.load carries nothing and calls nothing that does
    assert dict(moves.entries) == {"trainer/cli.py": 1, "trainer/fit.py": 1, "trainer/recipe.py": 2,
                                   "trainer/loop.py": 1, "trainer/export.py": 1}
    assert moves.re_entries == 1 and moves.climbs == 0 and moves.returns == 6
    assert moves.report()["trainer_rooms_entered_more_than_once"] == {"trainer/recipe.py": 2}


def test_a_call_back_into_a_room_on_the_stack_is_a_climb():
    # recipe.train -> loop.fit -> recipe.key: the loop calls back up into the recipe
    inner = Call("trainer/recipe.py", "key", on_path=True)
    top = Call("trainer/recipe.py", "train", [Call("trainer/loop.py", "fit", [inner])])
    moves = walk(top)
    assert moves.climbs == 1 and moves.re_entries == 1 and moves.entries["trainer/recipe.py"] == 2
