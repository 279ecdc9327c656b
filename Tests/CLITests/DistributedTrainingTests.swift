import Foundation
import Testing
import Torch

/// `simpledet train --nproc-per-node 2` as a user runs it: the same training as one process with
/// the whole batch, a killed worker, resuming, and one-line errors for a bad start.
@Suite(.serialized) struct DistributedTrainingTests {
  /// A RetinaNet whose loss is a mean of per-image terms and whose norms do not mix images
  /// (frozen batch norm, group norm), on images all padded to one square size: one worker with
  /// batch 2 and two with batch 1 compute the same gradients, up to float summation order. (At a
  /// learning rate of 0.01 those last-bit differences grow to 1e-3 of the loss by iteration 17;
  /// at 0.003 they stay below 1e-6.)
  func perImageConfig(maxIterations: Int, norm: String = "FrozenBN", size: Int = 64, learningRate: Double = 0.003) -> String {
    """
    model:
      classes: 4
      backbone: {depth: 18, norm: \(norm), frozen_stages: 0, base_channels: 16, out_features: [c3, c4, c5]}
      neck: {kind: fpn, channels: 32, extra_levels: p6p7, extra_input: p5}
      transform: {min_size: [\(size)], max_size: \(size), square_sizes: true, size_divisible: \(size)}
      rpn: null
      roi_heads: null
      head:
        kind: retinanet
        anchor_sizes: [[8], [16], [32], [64], [128]]
        norm: GN
    data:
      kind: shapes
      train: {image_count: 12}
      test: {image_count: 6}
      workers: 1
    solver:
      base_lr: \(learningRate)
      batch_size: 2
      max_iter: \(maxIterations)
      warmup_iters: 2
      steps: [100]
    test:
      score_threshold: 0.01
    runtime:
      threads: 1
      log_period: 1
      checkpoint_period: 0
      eval_period: 0
    """
  }

  func largestDifference(_ a: URL, _ b: URL) throws -> Double {
    let x = try SafeTensors.read(contentsOf: a)
    let y = try SafeTensors.read(contentsOf: b)
    #expect(Set(x.keys) == Set(y.keys))
    return x.keys.map { key in (x[key]!.to(.float64) - y[key]!.to(.float64)).abs().max().doubleValue() }.max() ?? 0
  }

  @Test func twoWorkersTrainAsOneWithTheWholeBatch() throws {
    let folder = try ScratchFolder()
    try folder.write("per_image.yaml", perImageConfig(maxIterations: 20))
    let one = try CommandLineRunner.run(["train", "--config", "per_image.yaml", "--output", "one"], in: folder.url)
    #expect(one.status == 0, "\(one.errors)")
    let two = try CommandLineRunner.run(
      ["train", "--config", "per_image.yaml", "--output", "two", "--nproc-per-node", "2"], in: folder.url)
    #expect(two.status == 0, "\(two.errors)")
    #expect(two.output.contains("distributed training: 2 workers, 1 images each per step"), "\(two.output)")

    let a = try losses(folder, "one")
    let b = try losses(folder, "two")
    #expect(a.count == 20 && b.count == 20)
    for iteration in 1...20 {
      let x = a[iteration] ?? .nan
      let y = b[iteration] ?? .nan
      #expect(abs(x - y) <= 1e-5 * max(1, abs(x)), "iteration \(iteration): loss \(x) with one worker, \(y) with two")
    }
    let difference = try largestDifference(folder.path("one/model_final.safetensors"), folder.path("two/model_final.safetensors"))
    #expect(difference < 1e-4, "final weights differ by \(difference)")

    // Distributed evaluation scores the same detections as a single process on those weights.
    let eval = try CommandLineRunner.run(
      ["eval", "--config", "per_image.yaml", "--weights", "two/model_final.safetensors", "--output", "single"],
      in: folder.url)
    #expect(eval.status == 0, "\(eval.errors)")
    let gathered = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("two/eval.json"))) as? [String: [String: Double]]
    let single = try JSONSerialization.jsonObject(with: Data(contentsOf: folder.path("single/eval.json"))) as? [String: [String: Double]]
    let g = try #require(gathered?["bbox"])
    let s = try #require(single?["bbox"])
    for (name, value) in s { #expect(abs((g[name] ?? -9) - value) < 1e-9, "\(name): \(g[name] ?? -9) distributed, \(value) single") }
    #expect((s["AR100"] ?? 0) > 0, "the test compares nothing: no detection matched (\(s))")
  }

  /// Cross-process batch norm over two workers of one image each normalises as batch norm over
  /// one worker's two images; plain batch norm on each worker's single image does not. Batch
  /// norm trained from scratch on two 64-pixel images is chaotic: one process alone, run with 1
  /// and then 2 threads, drifts by 1e-2 of the loss within ten iterations, so only the first
  /// five are compared. The same for in-place activated batch norm (SyncIABN against IABN), over
  /// four: there the losses agree to 2e-6 for four iterations, then part by 1e-4 in the fifth
  /// (with a slope of 0.5 too, by 5e-4 in the sixth): a jump, not a drift, which we take for a
  /// discrete choice (a max pool's, say) flipping on a rounding difference.
  @Test(arguments: [("BN", "SyncBN", 5), ("IABN", "SyncIABN", 4)])
  func syncBatchNormOverTwoWorkersTrainsAsBatchNormOverTheWholeBatch(
    plain: String, synchronised kind: String, iterations: Int
  ) throws {
    let folder = try ScratchFolder()
    try folder.write("bn.yaml", perImageConfig(maxIterations: iterations, norm: plain))
    try folder.write("syncbn.yaml", perImageConfig(maxIterations: iterations, norm: kind))
    let one = try CommandLineRunner.run(["train", "--config", "bn.yaml", "--output", "one"], in: folder.url)
    #expect(one.status == 0, "\(one.errors)")
    let synchronised = try CommandLineRunner.run(
      ["train", "--config", "syncbn.yaml", "--output", "sync", "--nproc-per-node", "2"], in: folder.url)
    #expect(synchronised.status == 0, "\(synchronised.errors)")
    let separate = try CommandLineRunner.run(
      ["train", "--config", "bn.yaml", "--output", "separate", "--nproc-per-node", "2", "--set", "solver.max_iter=1"],
      in: folder.url)
    #expect(separate.status == 0, "\(separate.errors)")
    let a = try losses(folder, "one")
    let b = try losses(folder, "sync")
    #expect(a.count == iterations && b.count == iterations)
    for iteration in 1...iterations {
      let x = a[iteration] ?? .nan
      let y = b[iteration] ?? .nan
      #expect(abs(x - y) <= 2e-5 * max(1, abs(x)), "iteration \(iteration): loss \(x) with \(plain) on one worker, \(y) with \(kind) on two")
    }
    let unsynchronised = try losses(folder, "separate")[1] ?? .nan
    #expect(abs(unsynchronised - (a[1] ?? .nan)) > 1e-3, "\(plain) on one image per worker should differ from \(plain) on both: \(unsynchronised)")
    // Weights and running statistics alike (the synchronised norms keep batch norm's names).
    let difference = try largestDifference(folder.path("one/model_final.safetensors"), folder.path("sync/model_final.safetensors"))
    #expect(difference < 1e-4, "final weights differ by \(difference)")
  }

  /// Ctrl-C (SIGINT) on the launcher: every worker finishes its step, rank 0 writes one
  /// checkpoint, and all stop. The launcher's SIGINT reaches the workers one after the other, so
  /// one may see it a step before another; SIGINT to one worker alone stops the others too.
  /// Either way all name SIGINT, and the launcher exits 130.
  @Test(arguments: ["launcher", "rank 1"])
  func interruptingCheckpointsOnceAndStopsEveryWorker(target: String) throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 400, checkpointPeriod: 1000))
    let (launcher, out, err) = try CommandLineRunner.start(
      ["train", "--config", "tiny.yaml", "--output", "run", "--nproc-per-node", "2"], in: folder.url)
    let deadline = Date().addingTimeInterval(180)
    while launcher.isRunning && Date() < deadline {
      if let text = try? String(contentsOf: folder.path("run/metrics.jsonl"), encoding: .utf8), text.contains("\"iteration\":2") { break }
      usleep(5_000)
    }
    let workers = [0, 1].compactMap { Self.worker(ofLauncher: launcher.processIdentifier, rank: $0) }
    #expect(workers.count == 2)
    kill(target == "launcher" ? launcher.processIdentifier : workers.last ?? launcher.processIdentifier, SIGINT)
    let output = String(decoding: out.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    launcher.waitUntilExit()
    #expect(launcher.terminationStatus == 128 + SIGINT, "\(output)\n\(errors)")
    #expect(errors.contains("interrupted by SIGINT") && !errors.contains("SIGTERM"), "\(errors)")
    #expect(!errors.contains("error:"), "\(errors)")
    for pid in workers { #expect(kill(pid, 0) != 0, "worker \(pid) still runs") }
    let names = (try? FileManager.default.contentsOfDirectory(atPath: folder.path("run/checkpoints").path)) ?? []
    #expect(names.filter { $0.hasSuffix(".state.safetensors") }.count == 1, "\(names)")
  }

  @Test func aKilledWorkerStopsTheRunAndResumeFinishesIt() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 12, checkpointPeriod: 3))
    let whole = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "whole", "--nproc-per-node", "2"], in: folder.url)
    #expect(whole.status == 0, "\(whole.errors)")

    let (launcher, out, err) = try CommandLineRunner.start(
      ["train", "--config", "tiny.yaml", "--output", "killed", "--nproc-per-node", "2"], in: folder.url)
    let marker = "killed/checkpoints/0000003.state.safetensors"
    var deadline = Date().addingTimeInterval(180)
    while !folder.exists(marker) && launcher.isRunning && Date() < deadline { usleep(5_000) }
    let worker = try #require(Self.worker(ofLauncher: launcher.processIdentifier, rank: 1), "no rank 1 worker found")
    kill(worker, SIGKILL)
    let killedAt = Date()
    deadline = killedAt.addingTimeInterval(90)
    while launcher.isRunning && Date() < deadline { usleep(20_000) }
    let stopped = Date().timeIntervalSince(killedAt)
    if launcher.isRunning { kill(launcher.processIdentifier, SIGKILL) }
    _ = out.fileHandleForReading.readDataToEndOfFile()
    let errors = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    launcher.waitUntilExit()
    #expect(stopped < 70, "the run took \(stopped) s to stop after a worker died")
    #expect(launcher.terminationStatus != 0)
    #expect(errors.contains("error: rank 1 died (SIGKILL"), "\(errors)")
    #expect(!folder.exists("killed/model_final.safetensors"))
    #expect(folder.exists(marker))

    let resumed = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "killed", "--nproc-per-node", "2", "--resume"], in: folder.url)
    #expect(resumed.status == 0, "\(resumed.errors)")
    #expect(resumed.output.contains("resuming from iteration"))
    let difference = try largestDifference(folder.path("whole/model_final.safetensors"), folder.path("killed/model_final.safetensors"))
    #expect(difference < 1e-5, "resumed weights differ from the uninterrupted run's by \(difference)")
  }

  @Test func badStartsAreOneLineErrors() throws {
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 2, checkpointPeriod: 0))

    // The rendezvous port is taken.
    let listener = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(listener) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { pointer in
        _ = bind(listener, pointer, length)
        _ = listen(listener, 4)
        _ = getsockname(listener, pointer, &length)
      }
    }
    let busy = Int(UInt16(bigEndian: address.sin_port))
    let taken = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "taken", "--nproc-per-node", "2", "--master-port", "\(busy)",
       "--set", "runtime.distributed.timeout=5"],
      in: folder.url)
    #expect(taken.status != 0)
    #expect(taken.errors.contains("error: rank 0 failed") && taken.errors.contains("port \(busy)"), "\(taken.errors)")

    // A worker whose rank 0 never comes (nothing listens on its port).
    let nobody = try ProcessGroup.freeLoopbackPort()
    let alone = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "alone", "--set", "runtime.distributed.timeout=2"], in: folder.url,
      environment: ["RANK": "1", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(nobody)"])
    #expect(alone.status != 0)
    #expect(alone.errors.contains("rank 1 of 2: cannot join the rendezvous at 127.0.0.1:\(nobody)"), "\(alone.errors)")
    #expect(alone.errors.split(separator: "\n").count == 1, "\(alone.errors)")

    // Workers given different configs.
    let port = try ProcessGroup.freeLoopbackPort()
    let environment = { (rank: Int) in
      ["RANK": "\(rank)", "WORLD_SIZE": "2", "MASTER_ADDR": "127.0.0.1", "MASTER_PORT": "\(port)"]
    }
    let (first, _, firstErrors) = try CommandLineRunner.start(
      ["train", "--config", "tiny.yaml", "--output", "mixed", "--set", "runtime.distributed.timeout=20"], in: folder.url,
      environment: environment(0))
    let second = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "mixed", "--set", "runtime.distributed.timeout=20",
       "--set", "solver.base_lr=0.5"],
      in: folder.url, environment: environment(1))
    let errors = String(decoding: firstErrors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    first.waitUntilExit()
    #expect(first.terminationStatus != 0 && second.status != 0)
    #expect(errors.contains("rank 1's resolved config differs from rank 0's"), "\(errors)")
    #expect(second.errors.contains("rank 1's resolved config differs from rank 0's"), "\(second.errors)")

    // Several machines need the address of machine 0.
    let noMaster = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "nomaster", "--nnodes", "2", "--node-rank", "1"], in: folder.url)
    #expect(noMaster.status != 0)
    #expect(noMaster.errors.contains("--nnodes 2 needs --master-addr"), "\(noMaster.errors)")
    #expect(noMaster.errors.split(separator: "\n").count == 1, "\(noMaster.errors)")

    // The global batch must split evenly.
    let uneven = try CommandLineRunner.run(
      ["train", "--config", "tiny.yaml", "--output", "uneven", "--nproc-per-node", "2", "--set", "solver.batch_size=3"],
      in: folder.url)
    #expect(uneven.status != 0)
    #expect(uneven.errors.contains("must be a multiple of the number of workers (2)"), "\(uneven.errors)")
  }

  /// Two machines: two network namespaces joined by a veth pair, one worker in each, talking
  /// only over that link. Needs permission to make namespaces (root, or CAP_NET_ADMIN).
  @Test func workersInTwoNetworkNamespaces() throws {
    let suffix = String(UUID().uuidString.prefix(6)).lowercased()
    let (a, b) = ("sdA\(suffix)", "sdB\(suffix)")
    let setup = [
      "ip netns add \(a)", "ip netns add \(b)",
      "ip link add va\(suffix) type veth peer name vb\(suffix)",
      "ip link set va\(suffix) netns \(a)", "ip link set vb\(suffix) netns \(b)",
      "ip -n \(a) addr add 10.213.7.1/24 dev va\(suffix)", "ip -n \(b) addr add 10.213.7.2/24 dev vb\(suffix)",
      "ip -n \(a) link set va\(suffix) up", "ip -n \(b) link set vb\(suffix) up",
      "ip -n \(a) link set lo up", "ip -n \(b) link set lo up",
    ]
    defer {
      _ = Self.shell("ip netns del \(a)")
      _ = Self.shell("ip netns del \(b)")
    }
    for command in setup {
      let (status, output) = Self.shell(command)
      if status != 0 {
        print("DistributedTrainingTests.workersInTwoNetworkNamespaces skipped: `\(command)` failed (\(output.trimmingCharacters(in: .whitespacesAndNewlines)))")
        return
      }
    }
    let folder = try ScratchFolder()
    try folder.write("tiny.yaml", tinyConfig(maxIterations: 4, checkpointPeriod: 0))
    let executable = CommandLineRunner.executable.path
    let variables = "WORLD_SIZE=2 MASTER_ADDR=10.213.7.1 MASTER_PORT=29611"
    let command = { (namespace: String, rank: Int) in
      "cd \(folder.url.path) && ip netns exec \(namespace) env RANK=\(rank) \(variables) \(executable) train --config tiny.yaml --output run\(rank) --set runtime.distributed.timeout=60 2>&1"
    }
    let group = DispatchGroup()
    nonisolated(unsafe) var second: (Int32, String) = (-1, "")
    let secondCommand = command(b, 1)
    group.enter()
    Thread.detachNewThread {
      second = Self.shell(secondCommand)
      group.leave()
    }
    let first = Self.shell(command(a, 0))
    group.wait()
    #expect(first.0 == 0, "rank 0: \(first.1)")
    #expect(second.0 == 0, "rank 1: \(second.1)")
    #expect(first.1.contains("distributed training: 2 workers"), "\(first.1)")
    #expect(folder.exists("run0/model_final.safetensors"))
    // Rank 1 writes nothing.
    #expect(!folder.exists("run1/model_final.safetensors"))
  }

  static func shell(_ command: String) -> (Int32, String) {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/bin/sh")
    process.arguments = ["-c", command]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    do { try process.run() } catch { return (-1, "\(error)") }
    let output = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    return (process.terminationStatus, String(decoding: output, as: UTF8.self))
  }

  /// The worker of `rank` among the launcher's children (its environment says RANK).
  static func worker(ofLauncher launcher: pid_t, rank: Int) -> pid_t? {
    let processes = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
    for name in processes {
      guard let pid = Int32(name),
        let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
        status.split(separator: "\n").contains(where: { $0 == "PPid:\t\(launcher)" }),
        let environment = try? Data(contentsOf: URL(fileURLWithPath: "/proc/\(pid)/environ"))
      else { continue }
      let variables = environment.split(separator: 0).map { String(decoding: $0, as: UTF8.self) }
      if variables.contains("RANK=\(rank)") { return pid }
    }
    return nil
  }
}
