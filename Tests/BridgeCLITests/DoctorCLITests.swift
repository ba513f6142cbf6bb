// `bridge doctor`: the kernel in use and how it came to be; a user's OPENBLAS_CORETYPE wins.

import Foundation
import Testing
import TestSupport
import ShardStore

@Suite struct DoctorCLITests {
    func doctor(_ extra: [String] = [], environment: [String: String]) throws -> JSONValue {
        let scratch = ScratchDirectory("doctor")
        let r = try runBridge(["doctor", "--json", "--no-measure", "--store", scratch.file("store")] + extra, environment: environment)
        #expect(r.status == 0, "\(r.stderr)")
        return try JSONValue(parsing: r.stdout)
    }

    @Test func bridgeChoosesAKernelAtLeastAsStrongAsTheCPUAllows() throws {
        let j = try doctor(environment: ["OPENBLAS_CORETYPE": ""])
        let blas = try #require(j["openblas"])
        #expect(blas["user_coretype"] == JSONValue.null)
        #expect(blas["weaker_than_cpu"] == false || blas["problem"] != JSONValue.null, "\(blas)")
        if blas["corrected"] == true {
            #expect(blas["openblas_choice"]?.stringValue != blas["kernel"]?.stringValue)
        }
        #expect(j["store"]?["exists"] == false)
        #expect((j["cpu"]?["features"]?.arrayValue?.count ?? 0) > 0)
    }

    @Test func theUsersCoreTypeWinsAndIsReportedAsSlower() throws {
        let kernels = try runBridge(["doctor", "--test-kernels"]).stdout.split(separator: "\n")
        guard kernels.contains("Prescott") else { return }   // not x86-64: nothing to force
        let j = try doctor(environment: ["OPENBLAS_CORETYPE": "Prescott"])
        let blas = try #require(j["openblas"])
        #expect(blas["kernel"]?.stringValue == "Prescott")
        #expect(blas["user_coretype"]?.stringValue == "Prescott")
        #expect(blas["corrected"] == false)
        let scratch = ScratchDirectory("doctor-text")
        let text = try runBridge(["doctor", "--no-measure", "--store", scratch.file("s")], environment: ["OPENBLAS_CORETYPE": "Prescott"]).stdout
        #expect(text.contains("OPENBLAS_CORETYPE=Prescott set by the user is in force"), "\(text)")
        if blas["wanted"]?.stringValue.flatMap({ ["Haswell", "Zen", "SkylakeX", "Cooperlake", "Sandybridge", "Bulldozer"].contains($0) }) == true {
            #expect(blas["weaker_than_cpu"] == true)
            #expect(text.contains("is slower than"), "\(text)")
        }
    }

    @Test func storeHealthIsSummarised() throws {
        let cli = try CLI("doctor-store")
        let r = try runBridge(["doctor", "--json", "--no-measure", "--verify", "--store", cli.store])
        #expect(r.status == 0, "\(r.stderr)")
        let j = try JSONValue(parsing: r.stdout)
        #expect(j["store"]?["exists"] == true)
        #expect(j["store"]?["healthy"] == true)
        #expect(j["store"]?["verified"]?["corrupt"]?.intValue == 0)
    }
}
