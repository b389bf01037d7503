import ArgumentParser
struct ReportCommand: ParsableCommand { func run() throws {} }
