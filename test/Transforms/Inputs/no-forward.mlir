// A module without @forward.
module {
  func.func @other() {
    return
  }
}
