'use strict';
// stagegate task launcher: the agent runs this file with its Node handler (Node24, Node20_1,
// Node16 or Node10), and it runs the task's Go binary for this machine.
//
// Constraints, each for a reason:
// - Plain Node, no npm dependency: the task folder ships this one file.
// - Node 10.16 syntax and APIs only: Azure DevOps Server agents may still pick the Node10
//   handler. No optional chaining, no nullish coalescing, no class fields, no fs.promises.
// - Never load azure-pipelines-task-lib: it moves INPUT_*, ENDPOINT_* and SECRET_* variables
//   out of process.env, and the binary reads them from its environment.
//
// Layout of a task folder: launcher.json ({"binary": "name"}) and bin/<os>-<arch>/<name>[.exe],
// shipped brotli-compressed as <name>[.exe].br (the .vsix keeps no unix permissions and the
// Marketplace caps the package size).

var childProcess = require('child_process');
var crypto = require('crypto');
var fs = require('fs');
var os = require('os');
var path = require('path');
var zlib = require('zlib');

var OS_NAMES = { linux: 'linux', darwin: 'darwin', win32: 'windows' };
var ARCH_NAMES = { x64: 'amd64', arm64: 'arm64' };

// Logging-command data: the agent unescapes %AZP25, %0D and %0A, so a message containing
// them (or a newline) cannot end or forge the command.
function escapeData(value) {
  return String(value).replace(/%/g, '%AZP25').replace(/\r/g, '%0D').replace(/\n/g, '%0A');
}

function debug(message) {
  if (String(process.env.SYSTEM_DEBUG || '').toLowerCase() === 'true') {
    process.stdout.write('##[debug]stagegate launcher: ' + escapeData(message) + '\n');
  }
}

// fail reports why no binary could run and ends the task Failed with exit code 1. It sets
// exitCode instead of calling process.exit so that stdout is flushed first (stdout is
// asynchronous for pipes on Windows).
function fail(message) {
  var text = 'stagegate launcher: ' + message;
  process.stdout.write('##vso[task.logissue type=error]' + escapeData(text) + '\n');
  process.stdout.write('##vso[task.complete result=Failed]' + escapeData(text) + '\n');
  process.exitCode = 1;
}

function isFile(file) {
  try {
    return fs.statSync(file).isFile();
  } catch (err) {
    return false;
  }
}

function isExecutable(file) {
  if (process.platform === 'win32') {
    return true;
  }
  try {
    fs.accessSync(file, fs.constants.X_OK);
    return true;
  } catch (err) {
    return false;
  }
}

// ensureExecutable restores the exec bits the .vsix zip dropped. It returns false when the
// file cannot be made executable in place (a read-only task folder, a file owned by another
// user), so the caller can use a private copy instead.
function ensureExecutable(file) {
  if (isExecutable(file)) {
    return true;
  }
  try {
    fs.chmodSync(file, fs.statSync(file).mode | 0o111);
  } catch (err) {
    debug('cannot chmod ' + file + ': ' + err.message);
    return false;
  }
  return isExecutable(file);
}

// writeAtomically writes data to a private temporary file beside target and renames it into
// place, so a concurrent launcher sees either no file or a complete executable, never a
// half-written one.
function writeAtomically(target, data) {
  var tmp = target + '.' + process.pid + '-' + crypto.randomBytes(6).toString('hex') + '.tmp';
  var fd = fs.openSync(tmp, 'wx', 0o755);
  try {
    var offset = 0;
    while (offset < data.length) {
      offset += fs.writeSync(fd, data, offset, data.length - offset);
    }
    fs.fsyncSync(fd);
  } catch (err) {
    fs.closeSync(fd);
    removeQuietly(tmp);
    throw err;
  }
  fs.closeSync(fd);
  try {
    if (process.platform !== 'win32') {
      // The umask may have cleared bits from the mode given to open.
      fs.chmodSync(tmp, 0o755);
    }
    fs.renameSync(tmp, target);
  } catch (err) {
    removeQuietly(tmp);
    // Another launcher got there first: Windows refuses to replace a binary that is running.
    if (isFile(target)) {
      debug('kept the binary another run unpacked: ' + err.message);
      return;
    }
    throw err;
  }
}

function removeQuietly(file) {
  try {
    fs.unlinkSync(file);
  } catch (err) {
    // Nothing to clean up.
  }
}

function tempRoot() {
  return process.env.AGENT_TEMPDIRECTORY || os.tmpdir();
}

// privateCopy places the binary in a folder of the agent's temp directory named after the
// content, so different task versions never share a file and a reused file always matches.
function privateCopy(exe, data, key) {
  var dir = path.join(tempRoot(), 'stagegate-' + key);
  var target = path.join(dir, exe);
  if (isFile(target) && ensureExecutable(target)) {
    return target;
  }
  fs.mkdirSync(dir, { recursive: true });
  writeAtomically(target, data);
  if (!ensureExecutable(target)) {
    throw new Error('cannot make ' + target + ' executable');
  }
  return target;
}

function sha256(data) {
  return crypto.createHash('sha256').update(data).digest('hex').slice(0, 24);
}

function decompress(file) {
  if (typeof zlib.brotliDecompressSync !== 'function') {
    throw new Error('this Node ' + process.version + ' has no brotli support (needs Node 10.16 or later)');
  }
  var data = zlib.brotliDecompressSync(fs.readFileSync(file));
  if (data.length === 0) {
    throw new Error(file + ' unpacks to an empty file');
  }
  return data;
}

// prepare returns the path of a runnable binary in dir, or null when dir has none.
function prepare(dir, exe) {
  var plain = path.join(dir, exe);
  if (isFile(plain)) {
    if (ensureExecutable(plain)) {
      return plain;
    }
    var raw = fs.readFileSync(plain);
    return privateCopy(exe, raw, sha256(raw));
  }
  var packed = plain + '.br';
  if (!isFile(packed)) {
    return null;
  }
  var data;
  try {
    data = decompress(packed);
  } catch (err) {
    throw new Error('cannot unpack ' + packed + ': ' + err.message + '. The extension package may be damaged: reinstall it.');
  }
  try {
    writeAtomically(plain, data);
    if (ensureExecutable(plain)) {
      debug('unpacked ' + packed);
      return plain;
    }
  } catch (err) {
    debug('cannot unpack beside ' + packed + ' (' + err.message + '), using ' + tempRoot());
  }
  return privateCopy(exe, data, sha256(data));
}

function shippedPlatforms(taskDir) {
  var bin = path.join(taskDir, 'bin');
  var names;
  try {
    names = fs.readdirSync(bin);
  } catch (err) {
    return [];
  }
  return names.filter(function (name) {
    try {
      return fs.statSync(path.join(bin, name)).isDirectory();
    } catch (err) {
      return false;
    }
  }).sort();
}

function readBinaryName(taskDir) {
  var file = path.join(taskDir, 'launcher.json');
  var config;
  try {
    config = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (err) {
    throw new Error('cannot read ' + file + ': ' + err.message);
  }
  var name = config && config.binary;
  if (typeof name !== 'string' || !/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(name)) {
    throw new Error(file + ': "binary" must be a file name such as "workitem-gate"');
  }
  return name;
}

function run(binary) {
  var child = childProcess.spawn(binary, process.argv.slice(2), {
    stdio: 'inherit',
    env: process.env,
    windowsHide: true
  });
  var finished = false;
  // The agent cancels a task by signalling this process: pass it on so the gate can stop
  // cleanly and report.
  function forwardInt() {
    child.kill('SIGINT');
  }
  function forwardTerm() {
    child.kill('SIGTERM');
  }
  function finish() {
    finished = true;
    process.removeListener('SIGINT', forwardInt);
    process.removeListener('SIGTERM', forwardTerm);
  }
  process.on('SIGINT', forwardInt);
  process.on('SIGTERM', forwardTerm);
  child.on('error', function (err) {
    if (finished) {
      return;
    }
    finish();
    fail('cannot start ' + binary + ': ' + err.message);
  });
  child.on('exit', function (code, signal) {
    if (finished) {
      return;
    }
    finish();
    if (signal) {
      debug(binary + ' ended by ' + signal);
      process.exitCode = 1;
      return;
    }
    process.exitCode = code === null ? 1 : code;
  });
}

function main() {
  var taskDir = __dirname;
  var name;
  try {
    name = readBinaryName(taskDir);
  } catch (err) {
    fail(err.message);
    return;
  }
  var platform = (OS_NAMES[process.platform] || process.platform) + '-' + (ARCH_NAMES[process.arch] || process.arch);
  var exe = process.platform === 'win32' ? name + '.exe' : name;
  var binary;
  try {
    binary = prepare(path.join(taskDir, 'bin', platform), exe);
  } catch (err) {
    fail(err.message);
    return;
  }
  if (binary === null) {
    var shipped = shippedPlatforms(taskDir);
    fail(name + ' has no build for ' + platform + ' (process.platform ' + process.platform + ', process.arch ' +
      process.arch + '). This package ships: ' + (shipped.length > 0 ? shipped.join(', ') : 'no platform') +
      '. Run the task on an agent of one of those platforms, or build the extension with PLATFORMS including ' +
      platform + '.');
    return;
  }
  debug('running ' + binary);
  run(binary);
}

main();
