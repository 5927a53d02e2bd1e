//! The tools users open results with, through a real mount of the built-in server serving a
//! directory laid out like Weaver's outputs (`jobs_dir`). The sample files are made by the tools
//! themselves (ncgen, gdal_translate), and every tool's view of the mount is compared with its
//! view of the original files. A missing tool fails the test: CI installs them all.

mod common;

use std::collections::BTreeSet;
use std::fmt::Write;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::nginx::Nginx;
use common::{run, Lcg, Mounted};
use weaverfs_server::ServerConfig;

const JOB: &str = "9a8b7c6d-5e4f-4a3b-8c2d-1e0f9a8b7c6d";
const DATA_JOB: &str = "0a1b2c3d-4e5f-4a6b-9c8d-7e6f5a4b3c2d";
/// The interpreter with Debian's python3-xarray and python3-netcdf4 (what .ci/run installs).
const PYTHON: &str = "/usr/bin/python3";

const NT: usize = 24;
const NY: usize = 90;
const NX: usize = 180;

fn tas_value(t: usize, y: usize, x: usize) -> f32 {
    250.0 + ((t * 7 + y * 3 + x) % 50) as f32 * 0.5
}

const COLS: usize = 300;
const ROWS: usize = 200;

fn grid_value(r: usize, c: usize) -> i32 {
    ((r * 37 + c * 11) % 1000) as i32
}

/// Sample outputs made with the tools, laid out as `{job}/{output}/{file}`:
/// returns the outputs directory and (path in the mount, path of the original) for each file.
struct Outputs {
    dir: tempfile::TempDir,
    files: Vec<(String, PathBuf)>,
}

fn make_outputs() -> Outputs {
    let dir = tempfile::tempdir().unwrap();
    let job = dir.path().join(JOB);
    for sub in ["output_nc4", "output_tif", "parts"] {
        fs::create_dir_all(job.join(sub)).unwrap();
    }
    let scratch = tempfile::tempdir().unwrap();

    // NetCDF-4 (HDF5) with a data variable, from CDL.
    let mut cdl = String::from(
        "netcdf tas {\ndimensions:\n time = 24 ; lat = 90 ; lon = 180 ;\nvariables:\n\
         double time(time) ; time:units = \"days since 2000-01-01\" ;\n\
         float lat(lat) ; lat:units = \"degrees_north\" ;\n\
         float lon(lon) ; lon:units = \"degrees_east\" ;\n\
         float tas(time, lat, lon) ; tas:units = \"K\" ; tas:_ChunkSizes = 1, 90, 180 ;\n\
         data:\n time = ",
    );
    let list = |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(", ");
    let _ = write!(cdl, "{} ;\n lat = ", list(NT, &|t| t.to_string()));
    let _ = write!(
        cdl,
        "{} ;\n lon = ",
        list(NY, &|y| format!("{}", -89.0 + 2.0 * y as f64))
    );
    let _ = write!(cdl, "{} ;\n tas = ", list(NX, &|x| format!("{}", 2 * x)));
    let values: Vec<String> = (0..NT * NY * NX)
        .map(|i| tas_value(i / (NY * NX), i / NX % NY, i % NX).to_string())
        .collect();
    cdl.push_str(&values.join(", "));
    cdl.push_str(" ;\n}\n");
    let cdl_path = scratch.path().join("tas.cdl");
    fs::write(&cdl_path, cdl).unwrap();
    let nc = job.join("output_nc4/tas.nc");
    run(
        "ncgen",
        &["-4", "-o", nc.to_str().unwrap(), cdl_path.to_str().unwrap()],
    );

    // GeoTIFF, tiled, from an ASCII grid.
    let mut asc = format!(
        "ncols {COLS}\nnrows {ROWS}\nxllcorner 5.0\nyllcorner 45.0\ncellsize 0.01\nNODATA_value -9999\n"
    );
    for r in 0..ROWS {
        let row: Vec<String> = (0..COLS).map(|c| grid_value(r, c).to_string()).collect();
        asc.push_str(&row.join(" "));
        asc.push('\n');
    }
    let asc_path = scratch.path().join("grid.asc");
    fs::write(&asc_path, asc).unwrap();
    let tif = job.join("output_tif/grid.tif");
    run(
        "gdal_translate",
        &[
            "-q",
            "-of",
            "GTiff",
            "-ot",
            "Int16",
            "-a_srs",
            "EPSG:4326",
            "-co",
            "TILED=YES",
            asc_path.to_str().unwrap(),
            tif.to_str().unwrap(),
        ],
    );

    // An array output, a file right under the job, and a job with a multi-block binary file.
    fs::write(job.join("parts/a.txt"), "first part\n").unwrap();
    fs::write(job.join("parts/b.csv"), "x,y\n1,2\n").unwrap();
    fs::write(job.join("report.txt"), "all done\n").unwrap();
    let data_job = dir.path().join(DATA_JOB);
    fs::create_dir_all(data_job.join("output_bin")).unwrap();
    let mut rng = Lcg(42);
    let data: Vec<u8> = (0..(5 << 20) + 12345).map(|_| rng.next() as u8).collect();
    fs::write(data_job.join("output_bin/data.bin"), data).unwrap();

    let files = [
        (format!("{JOB}/output_nc4.nc"), "output_nc4/tas.nc"),
        (format!("{JOB}/output_tif.tif"), "output_tif/grid.tif"),
        (format!("{JOB}/parts/a.txt"), "parts/a.txt"),
        (format!("{JOB}/parts/b.csv"), "parts/b.csv"),
        (format!("{JOB}/report.txt"), "report.txt"),
        (format!("{DATA_JOB}/output_bin.bin"), "output_bin/data.bin"),
    ]
    .into_iter()
    .map(|(mounted, original)| {
        let job = mounted.split('/').next().unwrap().to_string();
        let original = dir.path().join(job).join(original);
        (mounted, original)
    })
    .collect();
    Outputs { dir, files }
}

fn mount(outputs: &Outputs, args: &[&str]) -> Mounted {
    let cfg = ServerConfig {
        jobs_dir: Some(outputs.dir.path().to_path_buf()),
        ..ServerConfig::default()
    };
    Mounted::start(cfg, args)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// `ncdump` output without its first line, which names the dataset after the file.
fn ncdump_body(args: &[&str], file: &Path) -> String {
    let mut all = args.to_vec();
    all.push(s(file));
    let out = run("ncdump", &all);
    out.split_once('\n').map(|x| x.1).unwrap_or("").to_string()
}

#[test]
fn netcdf4_through_ncdump_and_xarray() {
    let outputs = make_outputs();
    let m = mount(&outputs, &["--block-size", "256K"]);
    let nc = m.path(&format!("{JOB}/output_nc4.nc"));
    let original = outputs.dir.path().join(JOB).join("output_nc4/tas.nc");
    assert_eq!(run("ncdump", &["-k", s(&nc)]).trim(), "netCDF-4");
    let header = ncdump_body(&["-h"], &nc);
    assert!(header.contains("float tas(time, lat, lon)"), "{header}");
    assert_eq!(header, ncdump_body(&["-h"], &original));
    // Every value, as ncdump prints it.
    assert!(
        ncdump_body(&[], &nc) == ncdump_body(&[], &original),
        "ncdump of the mount and of the original differ"
    );

    // xarray (netCDF4 engine): the mean on the mount, the original, and the values written.
    let script = "import sys, xarray\n\
                  for path in sys.argv[1:]:\n\
                  \x20   with xarray.open_dataset(path, engine='netcdf4') as ds:\n\
                  \x20       tas = ds['tas'].astype('float64')\n\
                  \x20       print(repr(float(tas.mean())), repr(float(tas.isel(time=5).mean())), dict(ds.sizes))\n";
    let out = run(PYTHON, &["-c", script, s(&nc), s(&original)]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 2, "{out}");
    assert_eq!(lines[0], lines[1], "xarray sees another file on the mount");
    let n = (NT * NY * NX) as f64;
    let mut sum = 0.0;
    for t in 0..NT {
        for y in 0..NY {
            for x in 0..NX {
                sum += tas_value(t, y, x) as f64;
            }
        }
    }
    let mean: f64 = lines[0].split(' ').next().unwrap().parse().unwrap();
    assert!(
        (mean - sum / n).abs() < 1e-9,
        "mean {mean}, expected {}",
        sum / n
    );
    assert!(
        lines[0].contains("'time': 24") && lines[0].contains("'lon': 180"),
        "{out}"
    );
}

/// The lines of `gdalinfo -stats` that describe the raster, not where its file is.
fn raster_description(info: &str) -> Vec<String> {
    info.lines()
        .filter(|l| {
            [
                "Size is",
                "Origin =",
                "Pixel Size",
                "Band 1",
                "Minimum=",
                "STATISTICS_",
                "GEOGCRS",
            ]
            .iter()
            .any(|k| l.contains(k))
        })
        .map(str::to_string)
        .collect()
}

#[test]
fn geotiff_through_gdalinfo_and_gdal_translate() {
    let outputs = make_outputs();
    let m = mount(&outputs, &["--block-size", "64K"]);
    let tif = m.path(&format!("{JOB}/output_tif.tif"));
    let original = outputs.dir.path().join(JOB).join("output_tif/grid.tif");
    // On the mount GDAL cannot write its .aux.xml sidecar; it must still answer.
    let info = run("gdalinfo", &["-stats", s(&tif)]);
    // The original is left without a sidecar, which the server would not know of anyway.
    let out = Command::new("gdalinfo")
        .args(["-stats", s(&original)])
        .env("GDAL_PAM_ENABLED", "NO")
        .output()
        .expect("gdalinfo runs");
    assert!(out.status.success());
    let original_info = String::from_utf8_lossy(&out.stdout);
    let described = raster_description(&info);
    assert_eq!(described, raster_description(&original_info));
    assert!(
        described.contains(&format!("Size is {COLS}, {ROWS}")),
        "{info}"
    );
    let values: Vec<i32> = (0..ROWS)
        .flat_map(|r| (0..COLS).map(move |c| grid_value(r, c)))
        .collect();
    let mean = values.iter().map(|v| *v as f64).sum::<f64>() / values.len() as f64;
    let (min, max) = (values.iter().min().unwrap(), values.iter().max().unwrap());
    let want = format!("Minimum={min}.000, Maximum={max}.000, Mean={mean:.3}");
    assert!(info.contains(&want), "{want} not in {info}");

    // gdal_translate from the mount back to an ASCII grid gives every value written.
    let scratch = tempfile::tempdir().unwrap();
    let asc = scratch.path().join("back.asc");
    run(
        "gdal_translate",
        &["-q", "-of", "AAIGrid", s(&tif), s(&asc)],
    );
    let text = fs::read_to_string(&asc).unwrap();
    let got: Vec<i32> = text
        .lines()
        .skip_while(|l| l.starts_with(|c: char| c.is_ascii_alphabetic()))
        .flat_map(|l| l.split_whitespace().map(|v| v.parse::<i32>().unwrap()))
        .collect();
    assert!(got == values, "gdal_translate read other values");
}

fn sha256(path: &Path) -> String {
    let out = run("sha256sum", &[s(path)]);
    out.split_whitespace().next().unwrap().to_string()
}

/// The files of our two jobs under `root` (the mount also holds the sample jobs), relative,
/// as `find -type f` lists them.
fn find_files(root: &Path) -> BTreeSet<String> {
    let (job, data_job) = (root.join(JOB), root.join(DATA_JOB));
    run("find", &[s(&job), s(&data_job), "-type", "f"])
        .lines()
        .map(|l| {
            l.strip_prefix(s(root))
                .unwrap()
                .trim_start_matches('/')
                .to_string()
        })
        .collect()
}

#[test]
fn copy_archive_and_hash_tools_with_files_on_nginx() {
    let outputs = make_outputs();
    let nginx = Nginx::serve(outputs.dir.path());
    let m = mount(&outputs, &["--block-size", "1M", "--cache-size", "4M"]);
    // The hrefs point at nginx, as in a real deployment; the API stays on the built-in server.
    m.server.set_files_url(Some(nginx.url()));
    m.server.clear_requests();

    // find: the outputs, and each job's own documents.
    let found = find_files(m.root());
    let outputs_found: BTreeSet<String> = found
        .iter()
        .filter(|f| !f.contains("/.job/"))
        .cloned()
        .collect();
    let want: BTreeSet<String> = outputs.files.iter().map(|(m, _)| m.clone()).collect();
    assert_eq!(outputs_found, want);
    assert!(
        found.contains(&format!("{JOB}/.job/status.json")),
        "{found:?}"
    );

    // sha256sum of every file on the mount equals the original's.
    for (mounted, original) in &outputs.files {
        assert_eq!(sha256(&m.path(mounted)), sha256(original), "{mounted}");
    }
    // The file bytes came from nginx, not from the built-in file host.
    let local_files = m
        .server
        .requests()
        .iter()
        .filter(|r| r.path.starts_with("/wpsoutputs/"))
        .count();
    assert_eq!(local_files, 0, "hrefs were not read from nginx");

    // cp -r, rsync -a and tar copy the same bytes.
    let dest = tempfile::tempdir().unwrap();
    let cp = dest.path().join("cp");
    let rsync = dest.path().join("rsync");
    let tar = dest.path().join("tar");
    for d in [&cp, &rsync, &tar] {
        fs::create_dir(d).unwrap();
    }
    for job in [JOB, DATA_JOB] {
        run("cp", &["-r", s(&m.path(job)), s(&cp)]);
        run("rsync", &["-a", s(&m.path(job)), s(&rsync)]);
    }
    let archive = dest.path().join("jobs.tar");
    run(
        "tar",
        &["-cf", s(&archive), "-C", s(m.root()), JOB, DATA_JOB],
    );
    run("tar", &["-xf", s(&archive), "-C", s(&tar)]);
    for copy in [&cp, &rsync, &tar] {
        assert_eq!(find_files(copy), found, "{}", copy.display());
        for (mounted, original) in &outputs.files {
            assert_eq!(
                sha256(&copy.join(mounted)),
                sha256(original),
                "{mounted} in {}",
                copy.display()
            );
        }
    }
    // rsync -a keeps the mount's modification times.
    let mtime = |p: &Path| fs::metadata(p).unwrap().modified().unwrap();
    let big = format!("{DATA_JOB}/output_bin.bin");
    assert_eq!(mtime(&rsync.join(&big)), mtime(&m.path(&big)));

    // du: the apparent size of a job is at least its files' sizes, and -sh answers.
    let total: u64 = outputs
        .files
        .iter()
        .filter(|(m, _)| m.starts_with(DATA_JOB))
        .map(|(_, o)| fs::metadata(o).unwrap().len())
        .sum();
    let du = run(
        "du",
        &["-s", "--apparent-size", "-B1", s(&m.path(DATA_JOB))],
    );
    let bytes: u64 = du.split_whitespace().next().unwrap().parse().unwrap();
    assert!(bytes >= total && bytes < total + (64 << 10), "du: {du}");
    let human = run("du", &["-sh", s(&m.path(DATA_JOB))]);
    assert!(
        human.starts_with("5.1M") || human.starts_with("5.2M"),
        "du -sh: {human}"
    );
    drop(nginx);
}
