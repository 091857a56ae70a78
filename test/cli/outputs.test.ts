/**
 * Saving never destroys what a user has. writeBytesAtomic replaces a regular file or
 * creates a new one (a symbolic link's target is replaced and the link kept), refuses
 * directories, devices, FIFOs and sockets, and removes the temporary files a killed
 * writer left (only its own target's, only old ones). The CLI refuses an --out or
 * --checkpoint that is one of the command's inputs (exit 2) or cannot be written
 * (exit 1) before it trains anything, and a closed stdout (`… | head -1`) does not keep
 * a run from finishing and saving its model.
 */
import { spawn, spawnSync } from "node:child_process";
import {
  linkSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
  chmodSync,
} from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ArgumentError, decodeSafetensors, encodeNpy } from "../../src/index.js";
import { checkWritable, fileIdentity, sameFile, writeBytesAtomic } from "../../src/runtime/files.js";
import { blobs } from "../helpers/tiny-data.js";

const CLI = fileURLToPath(new URL("../../dist/cli/main.js", import.meta.url));
const tempDir = () => mkdtempSync(join(tmpdir(), "distill-out-"));
const bytes = (text: string) => new TextEncoder().encode(text);
const isRoot = process.getuid?.() === 0;

function cli(args: string[], cwd: string) {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd, encoding: "utf8", timeout: 120_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** A FIFO at `path` (mkfifo is in every POSIX system); false where it cannot be made. */
function makeFifo(path: string): boolean {
  return spawnSync("mkfifo", [path]).status === 0;
}

/** A character device that writing must not replace: a copy of /dev/null made with mknod (root), else /dev/null itself (not root: renaming over it fails anyway). */
function characterDevice(dir: string): string | undefined {
  const path = join(dir, "null-device");
  if (spawnSync("mknod", [path, "c", "1", "3"]).status === 0) return path;
  return isRoot ? undefined : "/dev/null";
}

/** The weights of a safetensors file, as name → values. */
function weights(file: string): Map<string, number[]> {
  const { tensors } = decodeSafetensors(new Uint8Array(readFileSync(file)));
  return new Map([...tensors].map(([name, t]) => [name, Array.from(t.data as Float32Array)]));
}

describe("writeBytesAtomic", () => {
  it("through a symbolic link replaces the file it names and keeps the link", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "shared"));
    writeFileSync(join(dir, "shared", "model.bin"), "old");
    symlinkSync("shared/model.bin", join(dir, "link.bin"));
    symlinkSync("link.bin", join(dir, "chain.bin")); // a link to a link
    await writeBytesAtomic(join(dir, "chain.bin"), bytes("new"));
    expect(lstatSync(join(dir, "link.bin")).isSymbolicLink()).toBe(true);
    expect(lstatSync(join(dir, "chain.bin")).isSymbolicLink()).toBe(true);
    expect(readlinkSync(join(dir, "link.bin"))).toBe("shared/model.bin");
    expect(readFileSync(join(dir, "shared", "model.bin"), "utf8")).toBe("new");
    expect(readdirSync(dir).sort()).toEqual(["chain.bin", "link.bin", "shared"]);
    expect(readdirSync(join(dir, "shared"))).toEqual(["model.bin"]);
    // A dangling link creates the file it points at, relative to the link's folder.
    symlinkSync("shared/fresh.bin", join(dir, "dangling.bin"));
    await writeBytesAtomic(join(dir, "dangling.bin"), bytes("fresh"));
    expect(lstatSync(join(dir, "dangling.bin")).isSymbolicLink()).toBe(true);
    expect(readFileSync(join(dir, "shared", "fresh.bin"), "utf8")).toBe("fresh");
  });

  it("refuses directories, FIFOs, sockets and character devices, naming the path and what it is, and leaves them as they were", async () => {
    const dir = tempDir();
    mkdirSync(join(dir, "folder"));
    await expect(writeBytesAtomic(join(dir, "folder"), bytes("x"), "saveModel")).rejects.toThrow(/saveModel: cannot write .*folder: it is a directory/);
    expect(makeFifo(join(dir, "fifo"))).toBe(true);
    await expect(writeBytesAtomic(join(dir, "fifo"), bytes("x"))).rejects.toThrow(/cannot write .*fifo: it is a FIFO/);
    expect(lstatSync(join(dir, "fifo")).isFIFO()).toBe(true);
    symlinkSync("fifo", join(dir, "to-fifo"));
    await expect(writeBytesAtomic(join(dir, "to-fifo"), bytes("x"))).rejects.toThrow(/to-fifo \(a link to .*fifo\): it is a FIFO/);
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(join(dir, "socket"), resolve));
    try {
      await expect(writeBytesAtomic(join(dir, "socket"), bytes("x"))).rejects.toThrow(/it is a socket/);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    const device = characterDevice(dir);
    if (device) {
      await expect(writeBytesAtomic(device, bytes("x"))).rejects.toThrow(ArgumentError);
      await expect(writeBytesAtomic(device, bytes("x"))).rejects.toThrow(/it is a character device/);
      expect(lstatSync(device).isCharacterDevice()).toBe(true);
    } else {
      console.log("[outputs] skipping the character device: mknod failed and, as root, /dev/null itself is not to be risked");
    }
    expect(
      readdirSync(dir).filter((n) => n.endsWith(".tmp")),
      "no temporary file left",
    ).toEqual([]);
  });

  it("keeps the permission bits of the file it replaces", async () => {
    const dir = tempDir();
    const file = join(dir, "private.bin");
    writeFileSync(file, "old");
    chmodSync(file, 0o600);
    await writeBytesAtomic(file, bytes("new"));
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, "utf8")).toBe("new");
  });

  it("removes its own target's temporary files older than a minute, and nothing else", async () => {
    const dir = tempDir();
    const old = new Date(Date.now() - 5 * 60_000);
    const files = {
      stale: ".run.ckpt.m1abc2de-0-x7k2pq.tmp", // a killed write of run.ckpt
      staleShort: ".run.ckpt.m1abc2de-1a-4.tmp",
      fresh: ".run.ckpt.m1abc2df-2-abcdef.tmp", // maybe a writer still at work
      otherTarget: ".run.ckpt.old.m1abc2de-0-x7k2pq.tmp", // the temporary of "run.ckpt.old"
      notTemp: ".run.ckpt.notes",
      userFile: "run.ckpt.m1abc2de-0-x7k2pq.tmp",
    };
    for (const [key, name] of Object.entries(files)) {
      writeFileSync(join(dir, name), key);
      if (key !== "fresh") utimesSync(join(dir, name), old, old);
    }
    mkdirSync(join(dir, ".run.ckpt.m1abc2de-9-dirdir.tmp")); // matches the pattern but is no file
    utimesSync(join(dir, ".run.ckpt.m1abc2de-9-dirdir.tmp"), old, old);
    await writeBytesAtomic(join(dir, "run.ckpt"), bytes("checkpoint"));
    expect(readdirSync(dir).sort()).toEqual(
      ["run.ckpt", files.fresh, files.otherTarget, files.notTemp, files.userFile, ".run.ckpt.m1abc2de-9-dirdir.tmp"].sort(),
    );
  });
});

describe("checkWritable and fileIdentity", () => {
  it("checkWritable passes a new path and a regular file without leaving anything, and names what is wrong otherwise", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "existing.bin"), "keep");
    await checkWritable(join(dir, "new.bin"));
    await checkWritable(join(dir, "existing.bin"));
    expect(readdirSync(dir)).toEqual(["existing.bin"]);
    expect(readFileSync(join(dir, "existing.bin"), "utf8")).toBe("keep");
    await expect(checkWritable(join(dir, "missing", "m.bin"), "--out")).rejects.toThrow(/--out: cannot write .*m\.bin: the folder .*missing does not exist/);
    await expect(checkWritable(join(dir, "existing.bin", "m.bin"))).rejects.toThrow(/is not a directory/);
    await expect(checkWritable(dir)).rejects.toThrow(/it is a directory/);
    if (!isRoot) {
      mkdirSync(join(dir, "locked"), { mode: 0o500 });
      await expect(checkWritable(join(dir, "locked", "m.bin"))).rejects.toThrow(/permission denied/);
    }
  });

  it("fileIdentity sees through symbolic links (of files and of folders) and hard links", async () => {
    const dir = tempDir();
    writeFileSync(join(dir, "a.bin"), "a");
    writeFileSync(join(dir, "b.bin"), "b");
    linkSync(join(dir, "a.bin"), join(dir, "hard.bin"));
    symlinkSync(dir, join(dir, "self"));
    const a = await fileIdentity(join(dir, "a.bin"));
    expect(sameFile(a, await fileIdentity(join(dir, "hard.bin")))).toBe(true);
    expect(sameFile(a, await fileIdentity(join(dir, "self", "self", "a.bin")))).toBe(true);
    expect(sameFile(a, await fileIdentity(join(dir, "b.bin")))).toBe(false);
    expect(sameFile(await fileIdentity(join(dir, "self", "new.bin")), await fileIdentity(join(dir, "new.bin")))).toBe(true);
    expect(sameFile(await fileIdentity(join(dir, "nowhere", "x")), await fileIdentity(join(dir, "nowhere", "y")))).toBe(false);
  });
});

describe("the CLI's outputs", () => {
  let dir: string;
  const trainArgs = ["--data", "csv:blobs.csv", "--arch", "8-16-3", "--epochs", "2"];

  beforeAll(() => {
    dir = tempDir();
    const data = blobs({ rows: 300, features: 8, classes: 3, seed: 4, spread: 1.5 });
    const lines = ["label,f0,f1,f2,f3,f4,f5,f6,f7"];
    for (let r = 0; r < data.length; r++) lines.push([data.y[r], ...data.x.subarray(r * 8, r * 8 + 8)].join(","));
    writeFileSync(join(dir, "blobs.csv"), `${lines.join("\n")}\n`);
    expect(cli(["train", ...trainArgs, "--out", "teacher.safetensors"], dir).code).toBe(0);
    writeFileSync(join(dir, "x.npy"), encodeNpy(data.x, [data.length, 8]));
    writeFileSync(join(dir, "y.npy"), encodeNpy(new Float32Array(data.length), [data.length]));
    writeFileSync(join(dir, "logits.npy"), encodeNpy(new Float32Array(data.length * 3), [data.length, 3]));
    mkdirSync(join(dir, "mnist-idx"));
    writeFileSync(join(dir, "mnist-idx", "train-labels-idx1-ubyte.gz"), "not read: the command stops first");
    symlinkSync("teacher.safetensors", join(dir, "teacher-link.safetensors"));
    linkSync(join(dir, "teacher.safetensors"), join(dir, "teacher-hard.safetensors"));
  });

  it("an --out or --checkpoint that is an input, or each other, exits 2 naming both, and every input keeps its bytes", () => {
    const before = new Map(
      readdirSync(dir)
        .filter((n) => !n.includes("idx"))
        .map((n) => [n, readFileSync(join(dir, n))]),
    );
    const distill = ["distill", "--data", "csv:blobs.csv", "--arch", "8-4-3", "--epochs", "1"];
    const cases: [string[], RegExp][] = [
      [
        [...distill, "--teacher", "teacher.safetensors", "--out", "teacher.safetensors"],
        /--out teacher\.safetensors is the same file as the input --teacher teacher\.safetensors/,
      ],
      [[...distill, "--teacher", "teacher.safetensors", "--out", `${dir}/./teacher.safetensors`], /same file as the input --teacher/],
      [
        [...distill, "--teacher", "teacher.safetensors", "--out", "teacher-link.safetensors"],
        /--out teacher-link\.safetensors is the same file as the input --teacher/,
      ],
      [[...distill, "--teacher", "teacher-link.safetensors", "--out", "teacher.safetensors"], /same file as the input --teacher teacher-link/],
      [
        [...distill, "--teacher", "teacher.safetensors", "--out", "teacher-hard.safetensors"],
        /--out teacher-hard\.safetensors is the same file as the input --teacher/,
      ],
      [
        [...distill, "--teacher", "student.safetensors,teacher.safetensors", "--out", "teacher.safetensors"],
        /same file as the input --teacher teacher\.safetensors/,
      ],
      [[...distill, "--teacher-logits", "logits.npy", "--out", "logits.npy"], /--out logits\.npy is the same file as the input --teacher-logits logits\.npy/],
      [[...distill, "--teacher", "teacher.safetensors", "--out", "blobs.csv"], /--out blobs\.csv is the same file as the input --data blobs\.csv/],
      [
        [...distill, "--teacher", "teacher.safetensors", "--out", "s.safetensors", "--checkpoint", "teacher.safetensors"],
        /--checkpoint teacher\.safetensors is the same file as the input --teacher/,
      ],
      [["train", ...trainArgs, "--out", "blobs.csv"], /--out blobs\.csv is the same file as the input --data blobs\.csv/],
      [["train", ...trainArgs, "--out", "m.safetensors", "--checkpoint", "blobs.csv"], /--checkpoint blobs\.csv is the same file as the input --data/],
      [
        ["train", ...trainArgs, "--out", "m.safetensors", "--checkpoint", "./m.safetensors"],
        /--checkpoint \.\/m\.safetensors is the same file as --out m\.safetensors/,
      ],
      [["train", "--data", "npy:x.npy,y.npy", "--arch", "8-3", "--out", "y.npy"], /--out y\.npy is the same file as the input --data y\.npy/],
      [
        ["train", "--data", "idx:mnist-idx", "--arch", "784-10", "--out", "mnist-idx/train-labels-idx1-ubyte.gz"],
        /same file as the input --data mnist-idx\/train-labels-idx1-ubyte\.gz/,
      ],
    ];
    for (const [args, message] of cases) {
      const r = cli(args, dir);
      expect(r.code, `${args.join(" ")}: ${r.err}`).toBe(2);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.out, "refused before loading or training anything").toBe("");
    }
    for (const [name, content] of before) expect(readFileSync(join(dir, name)).equals(content), name).toBe(true);
    expect(lstatSync(join(dir, "teacher-link.safetensors")).isSymbolicLink()).toBe(true);
  });

  it("an --out or --checkpoint that cannot be written exits 1 naming it, before training, and changes nothing there", () => {
    expect(makeFifo(join(dir, "out-fifo"))).toBe(true);
    mkdirSync(join(dir, "out-dir"), { recursive: true });
    const cases: [string[], RegExp][] = [
      [["--out", "no-such-folder/m.safetensors"], /--out: cannot write no-such-folder\/m\.safetensors: the folder .*no-such-folder does not exist/],
      [["--out", "out-dir"], /--out: cannot write out-dir: it is a directory/],
      [["--out", "out-fifo"], /--out: cannot write out-fifo: it is a FIFO/],
      [
        ["--out", "m.safetensors", "--checkpoint", "no-such-folder/run.ckpt"],
        /--checkpoint: cannot write no-such-folder\/run\.ckpt: the folder .* does not exist/,
      ],
    ];
    const device = characterDevice(dir);
    if (device) cases.push([["--out", device], /it is a character device/]);
    for (const [flags, message] of cases) {
      const r = cli(["train", ...trainArgs, ...flags], dir);
      expect(r.code, r.err).toBe(1);
      expect(r.err).toMatch(message);
      expect(r.err.trim().split("\n")).toHaveLength(1);
      expect(r.out, "nothing was loaded or trained").toBe("");
    }
    expect(lstatSync(join(dir, "out-fifo")).isFIFO()).toBe(true);
    expect(readdirSync(join(dir, "out-dir"))).toEqual([]);
    if (device) expect(lstatSync(device).isCharacterDevice()).toBe(true);
  });

  it("--out through a symbolic link saves into the file it names and keeps the link", () => {
    mkdirSync(join(dir, "models"), { recursive: true });
    symlinkSync("models/current.safetensors", join(dir, "current.safetensors"));
    const r = cli(["train", ...trainArgs, "--out", "current.safetensors"], dir);
    expect(r.code, r.err).toBe(0);
    expect(lstatSync(join(dir, "current.safetensors")).isSymbolicLink()).toBe(true);
    expect(weights(join(dir, "models", "current.safetensors")).size).toBe(4);
  });

  it("a checkpoint's temporary file orphaned by a killed run is removed by the next run's checkpoint", () => {
    const orphan = join(dir, ".orphan.ckpt.m1abc2de-0-x7k2pq.tmp");
    writeFileSync(orphan, "half a checkpoint");
    const old = new Date(Date.now() - 10 * 60_000);
    utimesSync(orphan, old, old);
    const r = cli(["train", ...trainArgs, "--out", "o.safetensors", "--checkpoint", "orphan.ckpt", "--checkpoint-every", "5"], dir);
    expect(r.code, r.err).toBe(0);
    expect(readdirSync(dir).filter((n) => n.startsWith(".orphan.ckpt."))).toEqual([]);
    expect(readdirSync(dir)).toContain("orphan.ckpt");
  });

  it("a closed stdout (| head -1) stops the printing only: the run finishes, saves the same model, exits 0, no stack trace", async () => {
    const args = ["train", "--data", "csv:blobs.csv", "--arch", "8-32-3", "--epochs", "40", "--batch-size", "8", "--seed", "2"];
    expect(cli([...args, "--out", "piped-reference.safetensors"], dir).code).toBe(0);
    const child = spawn(process.execPath, [CLI, ...args, "--out", "piped.safetensors"], { cwd: dir });
    let err = "";
    child.stderr.on("data", (d) => (err += d));
    // Like head -1: read the first chunk, then close the pipe while the run still prints.
    child.stdout.once("data", () => child.stdout.destroy());
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(err).toBe("");
    expect(code).toBe(0);
    expect(weights(join(dir, "piped.safetensors"))).toEqual(weights(join(dir, "piped-reference.safetensors")));
  }, 60_000);
});
