/**
 * nextTurn's message path (browsers and Deno, which have no setImmediate): a loop that only
 * awaits turns must still let a file read in flight complete, as the streamed-data feed's
 * loop does while it trains on one block and reads the next; and no port is left open.
 */
import { readFile } from "node:fs/promises";
import { fileURLToPath } from "node:url";
import { expect, it } from "vitest";
import { messageTurn, nextTurn } from "../../src/runtime/next-turn.js";

const THIS_FILE = fileURLToPath(import.meta.url);

it.each([
  ["messageTurn", messageTurn],
  ["nextTurn", nextTurn],
])("a loop awaiting %s lets a pending file read finish", async (_name, turn) => {
  let text: string | undefined;
  const read = readFile(THIS_FILE, "utf8").then((t) => void (text = t));
  let turns = 0;
  while (text === undefined && turns < 100_000) {
    await turn();
    turns++;
  }
  await read;
  expect(text).toContain("a loop awaiting");
  expect(turns).toBeLessThan(100_000);
});

it("messageTurn resolves in order, one turn per call", async () => {
  const order: number[] = [];
  await Promise.all([0, 1, 2, 3].map((i) => messageTurn().then(() => order.push(i))));
  expect(order).toEqual([0, 1, 2, 3]);
});
